"""Random-program differential testing of ovtf against stock TensorFlow (see runner.py)."""
