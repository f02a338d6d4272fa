"""Builds the optional native extensions of core_ext: the scheduling core (core_ext._sched) and the
fast load-flow kernels (core_ext._pf, and core_ext._pf3 for the unbalanced load flow). Everything else is in pyproject.toml.

SIM_NO_EXT=1 skips the build (the pure-Python twins core_ext._sched_py / core_ext._pf_py are used).
"""

import os

import numpy
from setuptools import Extension, setup

ext_modules = []
if os.environ.get("SIM_NO_EXT") != "1":
    from Cython.Build import cythonize

    common = dict(include_dirs=[numpy.get_include()], define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                  extra_compile_args=["-O3"])
    exts = [Extension("core_ext._sched", ["core_ext/_sched.pyx"], **common),
            Extension("core_ext._pf", ["core_ext/_pf.pyx"], **common),
            Extension("core_ext._pf3", ["core_ext/_pf3.pyx"], **common)]
    ext_modules = cythonize(exts, language_level=3, compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True})

setup(ext_modules=ext_modules)
