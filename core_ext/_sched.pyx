# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of the scheduling core. ``core_ext/_sched_py.py`` is their specification;
the test suite checks both agree on random inputs. Arrays in (typed memoryviews), caller-allocated
arrays out, no Python objects inside the loops."""

from libc.math cimport fmin, fmax


def acceptance_kw(const double[::1] max_power_kw, const double[::1] efficiency,
                  const double[::1] energy_requested_kwh, const double[::1] energy_delivered_kwh,
                  const double[::1] battery_kwh, const double[::1] soc_arrival,
                  int taper, double transition_soc, double dt_h, double[::1] out_kw):
    cdef Py_ssize_t i, n = max_power_kw.shape[0]
    cdef double remaining, p_batt, soc, frac
    cdef double span = 1.0 - transition_soc
    with nogil:
        for i in range(n):
            remaining = fmax(energy_requested_kwh[i] - energy_delivered_kwh[i], 0.0)
            p_batt = max_power_kw[i] * efficiency[i]
            if taper:
                soc = soc_arrival[i] + energy_delivered_kwh[i] / battery_kwh[i]
                if span > 0.0:
                    frac = fmin(fmax((1.0 - soc) / span, 0.0), 1.0)
                else:
                    frac = 1.0 if soc < 1.0 else 0.0
                p_batt = p_batt * frac
            p_batt = fmin(p_batt, remaining / dt_h)
            out_kw[i] = p_batt / efficiency[i]


def advance_energy(const double[::1] p_kw, const double[::1] efficiency, double dt_h,
                   double[::1] energy_delivered_kwh):
    cdef Py_ssize_t i, n = p_kw.shape[0]
    with nogil:
        for i in range(n):
            energy_delivered_kwh[i] += p_kw[i] * efficiency[i] * dt_h


def sum_by_index(const double[::1] values, const long long[::1] index, double[::1] out):
    cdef Py_ssize_t i, n = values.shape[0], m = out.shape[0]
    with nogil:
        for i in range(m):
            out[i] = 0.0
        for i in range(n):
            out[index[i]] += values[i]
