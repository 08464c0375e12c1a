"""Container support: the health probe, the protos-only TensorFlow package of the tf_service image,
the per-role requirement files, TF Serving's config files for compose, and the compose `compare` job.

Nothing here is imported by the services themselves; the images copy this folder beside them.
"""
