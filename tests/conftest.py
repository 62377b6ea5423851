import os
import sys

# The list model lives beside the tests.
sys.path.insert(0, os.path.dirname(__file__))
