"""Generated Python stubs for Tandem's inference contract (regenerate with `python -m protos`).

Import the modules directly: `from protos import grpc_predict_v2_pb2 as pb`.
"""
