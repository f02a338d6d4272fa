"""Builds the one optional native extension, core_ext._sched. Everything else is in pyproject.toml.

SIM_NO_EXT=1 skips the build (the pure-Python twin core_ext._sched_py is used instead).
"""

import os

import numpy
from setuptools import Extension, setup

ext_modules = []
if os.environ.get("SIM_NO_EXT") != "1":
    from Cython.Build import cythonize

    ext = Extension("core_ext._sched", ["core_ext/_sched.pyx"], include_dirs=[numpy.get_include()],
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")], extra_compile_args=["-O3"])
    ext_modules = cythonize([ext], language_level=3, compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True})

setup(ext_modules=ext_modules)
