"""tf_service: the OIP v2 gRPC contract in front of TensorFlow Serving (or an embedded SavedModel runtime).

Run it with `python -m tf_service --model-base-path DIR`. Importing this package loads neither
TensorFlow nor any model: `main()` does, for the backend it picks.
"""

__version__ = "0.1.0"
