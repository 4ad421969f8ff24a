"""The CLAW.AI platform on one machine, with no AWS account and no Docker."""

import os as _os

# The template pins the ingest function's BLAS/OpenMP pools to one thread (OMP_NUM_THREADS,
# OPENBLAS_NUM_THREADS): a multi-threaded BLAS was 8x slower on a loaded host. The local
# runtime hosts every function in this process, so the same holds here, before numpy loads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")
