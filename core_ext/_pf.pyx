# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of the fast load flow. ``core_ext/_pf_py.py`` is their specification; the test
suite checks both agree on random inputs.

Complex quantities are "split": an array of shape (2, n, T) holds the real parts in ``[0]`` and the
imaginary parts in ``[1]``, one row per bus and the time step as the contiguous inner dimension, so
every inner loop is a plain loop over T doubles. The row loops are small C functions with
``restrict`` pointers (below) so the compiler vectorises them. Arrays in (typed memoryviews),
caller-allocated arrays out, no Python objects inside the loops.
"""

from libc.math cimport NAN
from libc.stdint cimport int64_t

cdef extern from *:
    """
    /* x -= (a + jb) * y over n time steps. */
    static inline void pf_axpy(double *restrict xr, double *restrict xi, const double *restrict yr,
                               const double *restrict yi, double a, double b, Py_ssize_t n) {
        for (Py_ssize_t t = 0; t < n; t++) {
            xr[t] -= a * yr[t] - b * yi[t];
            xi[t] -= a * yi[t] + b * yr[t];
        }
    }
    /* x *= (a + jb) over n time steps. */
    static inline void pf_scale(double *restrict xr, double *restrict xi, double a, double b,
                                Py_ssize_t n) {
        for (Py_ssize_t t = 0; t < n; t++) {
            double re = xr[t];
            xr[t] = a * re - b * xi[t];
            xi[t] = a * xi[t] + b * re;
        }
    }
    /* i = conj(s / v) = conj(s) v / |v|^2 over n time steps. */
    static inline void pf_current(const double *restrict vr, const double *restrict vi,
                                  const double *restrict sr, const double *restrict si,
                                  double *restrict ir, double *restrict ii, Py_ssize_t n) {
        for (Py_ssize_t t = 0; t < n; t++) {
            double m = 1.0 / (vr[t] * vr[t] + vi[t] * vi[t]);
            ir[t] = (sr[t] * vr[t] + si[t] * vi[t]) * m;
            ii[t] = (sr[t] * vi[t] - si[t] * vr[t]) * m;
        }
    }
    /* v = v0 + y; dv2 = max(dv2, |v_new - v_old|^2), NaN sticky; over n time steps. */
    static inline void pf_new_voltage(double v0r, double v0i, const double *restrict yr,
                                      const double *restrict yi, double *restrict vr,
                                      double *restrict vi, double *restrict dv2, Py_ssize_t n) {
        for (Py_ssize_t t = 0; t < n; t++) {
            double nr = v0r + yr[t], ni = v0i + yi[t];
            double dr = nr - vr[t], di = ni - vi[t];
            double d = dr * dr + di * di, m = dv2[t];
            dv2[t] = (d > m || d != d) ? d : m;
            vr[t] = nr;
            vi[t] = ni;
        }
    }
    /* acc += (a + jb) * x over n time steps. */
    static inline void pf_cmac(double *restrict accr, double *restrict acci, const double *restrict xr,
                               const double *restrict xi, double a, double b, Py_ssize_t n) {
        for (Py_ssize_t t = 0; t < n; t++) {
            accr[t] += a * xr[t] - b * xi[t];
            acci[t] += a * xi[t] + b * xr[t];
        }
    }
    /* One branch: i_f = yff v_f + yft v_t, i_t = ytf v_f + ytt v_t (y: re/im of yff, yft, ytf, ytt);
       loading = max(|i_f| sf, |i_t| st); losses += Re(v_f conj(i_f)) + Re(v_t conj(i_t)). */
    static inline void pf_branch(const double *restrict fr, const double *restrict fi,
                                 const double *restrict tr, const double *restrict ti,
                                 const double *y, double sf, double st,
                                 double *restrict loading, double *restrict losses, Py_ssize_t n) {
        double ffr = y[0], ffi = y[1], ftr = y[2], fti = y[3], tfr = y[4], tfi = y[5], ttr = y[6], tti = y[7];
        double sf2 = sf * sf, st2 = st * st;
        for (Py_ssize_t t = 0; t < n; t++) {
            double ifr = ffr * fr[t] - ffi * fi[t] + ftr * tr[t] - fti * ti[t];
            double ifi = ffr * fi[t] + ffi * fr[t] + ftr * ti[t] + fti * tr[t];
            double itr = tfr * fr[t] - tfi * fi[t] + ttr * tr[t] - tti * ti[t];
            double iti = tfr * fi[t] + tfi * fr[t] + ttr * ti[t] + tti * tr[t];
            double a = (ifr * ifr + ifi * ifi) * sf2, b = (itr * itr + iti * iti) * st2;
            loading[t] = sqrt(a > b ? a : b);
            losses[t] += fr[t] * ifr + fi[t] * ifi + tr[t] * itr + ti[t] * iti;
        }
    }
    /* out = |v| over n time steps. */
    static inline void pf_abs(const double *restrict vr, const double *restrict vi,
                              double *restrict out, Py_ssize_t n) {
        for (Py_ssize_t t = 0; t < n; t++) out[t] = sqrt(vr[t] * vr[t] + vi[t] * vi[t]);
    }
    """
    void pf_cmac(double* accr, double* acci, const double* xr, const double* xi,
                 double a, double b, Py_ssize_t n) nogil
    void pf_branch(const double* fr, const double* fi, const double* tr, const double* ti, const double* y,
                   double sf, double st, double* loading, double* losses, Py_ssize_t n) nogil
    void pf_abs(const double* vr, const double* vi, double* out, Py_ssize_t n) nogil
    void pf_axpy(double* xr, double* xi, const double* yr, const double* yi,
                 double a, double b, Py_ssize_t n) nogil
    void pf_scale(double* xr, double* xi, double a, double b, Py_ssize_t n) nogil
    void pf_current(const double* vr, const double* vi, const double* sr, const double* si,
                    double* ir, double* ii, Py_ssize_t n) nogil
    void pf_new_voltage(double v0r, double v0i, const double* yr, const double* yi,
                        double* vr, double* vi, double* dv2, Py_ssize_t n) nogil


cdef int _check(bint ok, str what) except -1:
    """Shapes are checked (a mismatch would read or write out of bounds); index values are the
    caller's contract (in range), not checked."""
    if not ok:
        raise ValueError(f"kernel argument shapes do not match: {what}")
    return 0


cdef inline double* _row(double[:, :] a, Py_ssize_t i) noexcept nogil:
    return <double*>(<char*>&a[0, 0] + i * a.strides[0])


cdef int _check_rows(double[:, :] a, Py_ssize_t n_t) except -1:
    if a.shape[0] and (a.shape[1] != n_t or a.strides[1] != sizeof(double)):
        raise ValueError("output rows must be contiguous and one value per time step")
    return 0


cdef class FixedPoint:
    """The constant arrays of one factorised system, held once so a call converts only its own
    arguments (each array argument costs ~0.5 us to acquire; a single step makes ~15 calls).

    Factors of Pr Y_pp Pc = L U: L unit lower triangular, strictly-lower entries (CSC: l_indptr,
    l_indices, l_data (2, nnz)); U strictly-upper entries (CSC) and the inverse of its diagonal
    ``u_diag_inv`` (2, n). Bus j's current goes to row ``rhs_row[j]`` of a right-hand side, its
    voltage is row ``sol_row[j]`` of a solution; ``v0`` (2, n) is the no-load voltage.
    """

    cdef const int64_t[::1] l_indptr, l_indices, u_indptr, u_indices, rhs_row, sol_row
    cdef const double[:, ::1] l_data, u_data, u_diag_inv, v0
    cdef readonly Py_ssize_t n

    def __init__(self, const int64_t[::1] l_indptr, const int64_t[::1] l_indices, const double[:, ::1] l_data,
                 const int64_t[::1] u_indptr, const int64_t[::1] u_indices, const double[:, ::1] u_data,
                 const double[:, ::1] u_diag_inv, const int64_t[::1] rhs_row, const int64_t[::1] sol_row,
                 const double[:, ::1] v0):
        n = u_diag_inv.shape[1]
        _check(l_indptr.shape[0] == n + 1 and u_indptr.shape[0] == n + 1 and u_diag_inv.shape[0] == 2
               and l_data.shape[0] == 2 and u_data.shape[0] == 2
               and l_data.shape[1] >= l_indptr[n] and u_data.shape[1] >= u_indptr[n]
               and l_indices.shape[0] >= l_indptr[n] and u_indices.shape[0] >= u_indptr[n]
               and rhs_row.shape[0] == n and sol_row.shape[0] == n and v0.shape[0] == 2 and v0.shape[1] == n,
               "FixedPoint")
        self.n = n
        self.l_indptr, self.l_indices, self.l_data = l_indptr, l_indices, l_data
        self.u_indptr, self.u_indices, self.u_data = u_indptr, u_indices, u_data
        self.u_diag_inv, self.rhs_row, self.sol_row, self.v0 = u_diag_inv, rhs_row, sol_row, v0

    def lu_solve(self, double[:, :, ::1] x):
        """Solve L U y = x in place for every time step (column-oriented CSC sweeps); x: (2, n, T)."""
        cdef Py_ssize_t n = self.n, n_t = x.shape[2], k, p, i
        cdef double *xr
        cdef double *xi
        _check(x.shape[0] == 2 and x.shape[1] == n, "lu_solve")
        if n == 0 or n_t == 0:
            return
        xr = &x[0, 0, 0]
        xi = &x[1, 0, 0]
        if n_t == 1:
            self._solve_one(xr, xi)
            return
        with nogil:
            for k in range(n):
                for p in range(self.l_indptr[k], self.l_indptr[k + 1]):
                    i = self.l_indices[p]
                    pf_axpy(xr + i * n_t, xi + i * n_t, xr + k * n_t, xi + k * n_t,
                            self.l_data[0, p], self.l_data[1, p], n_t)
            for k in range(n - 1, -1, -1):
                pf_scale(xr + k * n_t, xi + k * n_t, self.u_diag_inv[0, k], self.u_diag_inv[1, k], n_t)
                for p in range(self.u_indptr[k], self.u_indptr[k + 1]):
                    i = self.u_indices[p]
                    pf_axpy(xr + i * n_t, xi + i * n_t, xr + k * n_t, xi + k * n_t,
                            self.u_data[0, p], self.u_data[1, p], n_t)

    cdef void _solve_one(self, double* xr, double* xi) noexcept nogil:
        """``lu_solve`` for a single step (T = 1): the same sweeps with scalar arithmetic."""
        cdef Py_ssize_t k, p, i
        cdef double a, b, yr, yi
        for k in range(self.n):
            yr = xr[k]
            yi = xi[k]
            for p in range(self.l_indptr[k], self.l_indptr[k + 1]):
                i = self.l_indices[p]
                a = self.l_data[0, p]
                b = self.l_data[1, p]
                xr[i] -= a * yr - b * yi
                xi[i] -= a * yi + b * yr
        for k in range(self.n - 1, -1, -1):
            a = self.u_diag_inv[0, k]
            b = self.u_diag_inv[1, k]
            yr = a * xr[k] - b * xi[k]
            yi = a * xi[k] + b * xr[k]
            xr[k] = yr
            xi[k] = yi
            for p in range(self.u_indptr[k], self.u_indptr[k + 1]):
                i = self.u_indices[p]
                a = self.u_data[0, p]
                b = self.u_data[1, p]
                xr[i] -= a * yr - b * yi
                xi[i] -= a * yi + b * yr

    def injection(self, const double[:, :, ::1] v, const double[:, :, ::1] s, double[:, :, ::1] rhs):
        """The load current conj(S / V) of bus j, every step, written to row ``rhs_row[j]`` of rhs."""
        cdef Py_ssize_t n = self.n, n_t = v.shape[2], j, w
        _check(v.shape[0] == 2 and s.shape[0] == 2 and rhs.shape[0] == 2 and v.shape[1] == n and s.shape[1] == n
               and s.shape[2] == n_t and rhs.shape[1] == n and rhs.shape[2] == n_t, "injection")
        if n == 0 or n_t == 0:
            return
        with nogil:
            for j in range(n):
                w = self.rhs_row[j]
                pf_current(&v[0, j, 0], &v[1, j, 0], &s[0, j, 0], &s[1, j, 0], &rhs[0, w, 0], &rhs[1, w, 0], n_t)

    def update(self, const double[:, :, ::1] y, const double[:, :, ::1] s, double[:, :, ::1] v,
               double[:, :, ::1] rhs, double[::1] dv2):
        """One fixed-point step after the solve: V_j = V0_j + y[sol_row[j]] (IN/OUT v); ``dv2[t]`` the
        largest |V_new - V_old|^2 over buses (NaN if any is NaN); the next right-hand side
        conj(S / V_new) at row ``rhs_row[j]`` (OUT rhs). ``y`` and ``rhs`` must be different arrays."""
        cdef Py_ssize_t n = self.n, n_t = v.shape[2], j, r, w, t
        _check(v.shape[0] == 2 and y.shape[0] == 2 and s.shape[0] == 2 and rhs.shape[0] == 2
               and v.shape[1] == n and y.shape[1] == n and y.shape[2] == n_t and s.shape[1] == n
               and s.shape[2] == n_t and rhs.shape[1] == n and rhs.shape[2] == n_t and dv2.shape[0] == n_t,
               "update")
        if n_t == 0:
            return
        with nogil:
            for t in range(n_t):
                dv2[t] = 0.0
            for j in range(n):
                r = self.sol_row[j]
                w = self.rhs_row[j]
                pf_new_voltage(self.v0[0, j], self.v0[1, j], &y[0, r, 0], &y[1, r, 0], &v[0, j, 0], &v[1, j, 0],
                               &dv2[0], n_t)
                pf_current(&v[0, j, 0], &v[1, j, 0], &s[0, j, 0], &s[1, j, 0], &rhs[0, w, 0], &rhs[1, w, 0], n_t)


def spmv(const int64_t[::1] indptr, const int64_t[::1] indices, const double[:, ::1] data,
         const double[:, :, ::1] v, double[:, :, ::1] out):
    """out (2, rows, T) = M v for a sparse complex M (CSR: indptr, indices, data (2, nnz))."""
    cdef Py_ssize_t n_rows = out.shape[1], n_t = out.shape[2], r, p, t, k
    _check(v.shape[0] == 2 and out.shape[0] == 2 and v.shape[2] == n_t and indptr.shape[0] == n_rows + 1
           and data.shape[0] == 2
           and indices.shape[0] >= indptr[n_rows] and data.shape[1] >= indptr[n_rows], "spmv")
    if n_t == 0:
        return
    with nogil:
        for r in range(n_rows):
            for t in range(n_t):
                out[0, r, t] = 0.0
                out[1, r, t] = 0.0
            for p in range(indptr[r], indptr[r + 1]):
                k = indices[p]
                pf_cmac(&out[0, r, 0], &out[1, r, 0], &v[0, k, 0], &v[1, k, 0], data[0, p], data[1, p], n_t)


def branch_flows(const int64_t[::1] from_bus, const int64_t[::1] to_bus, const double[:, ::1] y,
                 const double[::1] scale_from, const double[::1] scale_to, const double[:, :, ::1] v,
                 double[:, :] loading, double[::1] losses):
    """Per branch b with I_f = yff V_f + yft V_t and I_t = ytf V_f + ytt V_t (``y[b]`` = re, im of
    yff, yft, ytf, ytt; shape (n_branches, 8)): ``loading[b]`` = max(|I_f| scale_from, |I_t| scale_to)
    (OUT; rows of unit stride, e.g. a column slice of a bigger array) and ``losses`` +=
    Re(V_f conj(I_f)) + Re(V_t conj(I_t)) (IN/OUT)."""
    cdef Py_ssize_t n_br = loading.shape[0], n_t = v.shape[2], b, f, k
    _check(v.shape[0] == 2 and from_bus.shape[0] == n_br and to_bus.shape[0] == n_br and y.shape[0] == n_br and y.shape[1] == 8
           and scale_from.shape[0] == n_br and scale_to.shape[0] == n_br and losses.shape[0] == n_t,
           "branch_flows")
    if n_t == 0 or n_br == 0:
        return
    _check_rows(loading, n_t)
    with nogil:
        for b in range(n_br):
            f = from_bus[b]
            k = to_bus[b]
            pf_branch(&v[0, f, 0], &v[1, f, 0], &v[0, k, 0], &v[1, k, 0], &y[b, 0], scale_from[b],
                      scale_to[b], _row(loading, b), &losses[0], n_t)


def magnitude(const double[:, :, ::1] v, const int64_t[::1] bus_pos, double[:, :] out):
    """``out[j]`` = |v[bus_pos[j]]| per step, NaN where ``bus_pos[j] < 0`` (rows of unit stride)."""
    cdef Py_ssize_t n = out.shape[0], n_t = v.shape[2], j, t
    _check(v.shape[0] == 2 and bus_pos.shape[0] == n, "magnitude")
    if n_t == 0 or n == 0:
        return
    _check_rows(out, n_t)
    with nogil:
        for j in range(n):
            if bus_pos[j] < 0:
                for t in range(n_t):
                    _row(out, j)[t] = NAN
            else:
                pf_abs(&v[0, bus_pos[j], 0], &v[1, bus_pos[j], 0], _row(out, j), n_t)
