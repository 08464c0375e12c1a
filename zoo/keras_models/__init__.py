"""The zoo's networks in Keras 3 (TensorFlow backend), functional models whose weighted layers carry the
PyTorch module paths as names, so weights port by name (see zoo.port)."""
