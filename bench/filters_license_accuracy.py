"""License matcher accuracy on the labelled set of real license texts (tests/test_license_accuracy.py).

    PYTHONPATH=. .venv/bin/python bench/filters_license_accuracy.py
"""
from tests.test_license_accuracy import evaluate, labelled_set

if __name__ == "__main__":
    cases = labelled_set()
    type_accuracy, id_accuracy, misses = evaluate(cases)
    print(f"{len(cases)} texts: license_type accuracy {type_accuracy:.1%}, SPDX id-set accuracy {id_accuracy:.1%}")
    for name, expected, got in misses:
        print(f"  miss {name}: expected {expected}, got {got}")
