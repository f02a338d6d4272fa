# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# distutils: extra_compile_args = -fno-math-errno
"""Compiled kernels of the fast load flow. ``core_ext/_pf_py.py`` is their specification; the test
suite checks both agree on random inputs.

Complex quantities are "split": an array of shape (2, n, T) holds the real parts in ``[0]`` and the
imaginary parts in ``[1]``, one row per bus and the time step as the contiguous inner dimension, so
every inner loop is a plain loop over T doubles. The loops are C functions (below) over ``restrict``
pointers so the compiler vectorises them; with GCC on x86-64 Linux each is built three times
(AVX-512, AVX2 + FMA, SSE2) and the widest the CPU has is picked when the module loads
(``target_clones``), so one build runs at full width everywhere. ``-fno-math-errno`` lets ``sqrt``
vectorise (nothing here reads ``errno``). Arrays in (typed memoryviews), caller-allocated arrays
out, no Python objects inside the loops.
"""

from libc.math cimport NAN
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

import numpy as np

cdef extern from *:
    """
    #include <math.h>
    #if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__GLIBC__)
    #define PF_VECTOR __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define PF_VECTOR
    #endif

    /* One factorised system: Pr Y Pc = L U (L unit lower: strictly-lower CSC entries; U: strictly-
       upper CSC entries plus the inverse of its diagonal), the row permutations and V0. */
    typedef struct {
        Py_ssize_t n;
        const int64_t *l_indptr, *l_indices, *u_indptr, *u_indices, *rhs_row, *sol_row;
        const double *l_re, *l_im, *u_re, *u_im, *d_re, *d_im, *v0_re, *v0_im;
    } pf_system;

    /* L U y = x in place, x rows of n_t steps (real parts xr, imaginary parts xi). */
    PF_VECTOR static void pf_lu_solve(const pf_system *s, double *restrict xr, double *restrict xi,
                                      Py_ssize_t n_t) {
        for (Py_ssize_t k = 0; k < s->n; k++) {
            const double *yr = xr + k * n_t, *yi = xi + k * n_t;
            for (int64_t p = s->l_indptr[k]; p < s->l_indptr[k + 1]; p++) {
                double a = s->l_re[p], b = s->l_im[p];
                double *zr = xr + s->l_indices[p] * n_t, *zi = xi + s->l_indices[p] * n_t;
                for (Py_ssize_t t = 0; t < n_t; t++) {
                    zr[t] -= a * yr[t] - b * yi[t];
                    zi[t] -= a * yi[t] + b * yr[t];
                }
            }
        }
        for (Py_ssize_t k = s->n - 1; k >= 0; k--) {
            double *yr = xr + k * n_t, *yi = xi + k * n_t;
            double a = s->d_re[k], b = s->d_im[k];
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double re = yr[t];
                yr[t] = a * re - b * yi[t];
                yi[t] = a * yi[t] + b * re;
            }
            for (int64_t p = s->u_indptr[k]; p < s->u_indptr[k + 1]; p++) {
                double c = s->u_re[p], d = s->u_im[p];
                double *zr = xr + s->u_indices[p] * n_t, *zi = xi + s->u_indices[p] * n_t;
                for (Py_ssize_t t = 0; t < n_t; t++) {
                    zr[t] -= c * yr[t] - d * yi[t];
                    zi[t] -= c * yi[t] + d * yr[t];
                }
            }
        }
    }

    /* ``pf_lu_solve`` for one step: the same sweeps with scalar arithmetic. */
    static void pf_lu_solve_one(const pf_system *s, double *restrict xr, double *restrict xi) {
        for (Py_ssize_t k = 0; k < s->n; k++) {
            double yr = xr[k], yi = xi[k];
            for (int64_t p = s->l_indptr[k]; p < s->l_indptr[k + 1]; p++) {
                int64_t i = s->l_indices[p];
                xr[i] -= s->l_re[p] * yr - s->l_im[p] * yi;
                xi[i] -= s->l_re[p] * yi + s->l_im[p] * yr;
            }
        }
        for (Py_ssize_t k = s->n - 1; k >= 0; k--) {
            double yr = s->d_re[k] * xr[k] - s->d_im[k] * xi[k];
            double yi = s->d_re[k] * xi[k] + s->d_im[k] * xr[k];
            xr[k] = yr;
            xi[k] = yi;
            for (int64_t p = s->u_indptr[k]; p < s->u_indptr[k + 1]; p++) {
                int64_t i = s->u_indices[p];
                xr[i] -= s->u_re[p] * yr - s->u_im[p] * yi;
                xi[i] -= s->u_re[p] * yi + s->u_im[p] * yr;
            }
        }
    }

    /* The load current conj(S_j / V_j) of bus j into row rhs_row[j]. */
    PF_VECTOR static void pf_injection(const pf_system *s, const double *restrict vr, const double *restrict vi,
                                       const double *restrict sr, const double *restrict si,
                                       double *restrict rr, double *restrict ri, Py_ssize_t n_t) {
        for (Py_ssize_t j = 0; j < s->n; j++) {
            const double *restrict a = vr + j * n_t, *restrict b = vi + j * n_t;
            const double *restrict p = sr + j * n_t, *restrict q = si + j * n_t;
            double *restrict outr = rr + s->rhs_row[j] * n_t, *restrict outi = ri + s->rhs_row[j] * n_t;
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double m = 1.0 / (a[t] * a[t] + b[t] * b[t]);
                outr[t] = (p[t] * a[t] + q[t] * b[t]) * m;
                outi[t] = (p[t] * b[t] - q[t] * a[t]) * m;
            }
        }
    }

    /* V_j = V0_j + y[sol_row[j]]; dv2 = max_j |V_new - V_old|^2 (NaN if any is NaN or inf); the next currents
       conj(S_j / V_j) into row rhs_row[j] of r. */
    PF_VECTOR static void pf_update(const pf_system *s, const double *restrict yr, const double *restrict yi,
                                    const double *restrict sr, const double *restrict si,
                                    double *restrict vr, double *restrict vi, double *restrict rr,
                                    double *restrict ri, double *restrict dv2, Py_ssize_t n_t) {
        if (n_t == 1) {  /* one step: scalar arithmetic, without the vector loop's set-up per row */
            double big = 0.0;
            for (Py_ssize_t j = 0; j < s->n; j++) {
                double nr = s->v0_re[j] + yr[s->sol_row[j]], ni = s->v0_im[j] + yi[s->sol_row[j]];
                double dr = nr - vr[j], di = ni - vi[j], d = dr * dr + di * di;
                big = (d > big ? d : big) + (d - d);
                vr[j] = nr;
                vi[j] = ni;
                double w = 1.0 / (nr * nr + ni * ni);
                rr[s->rhs_row[j]] = (sr[j] * nr + si[j] * ni) * w;
                ri[s->rhs_row[j]] = (sr[j] * ni - si[j] * nr) * w;
            }
            dv2[0] = big;
            return;
        }
        for (Py_ssize_t t = 0; t < n_t; t++) dv2[t] = 0.0;
        for (Py_ssize_t j = 0; j < s->n; j++) {
            const double *restrict y_r = yr + s->sol_row[j] * n_t, *restrict y_i = yi + s->sol_row[j] * n_t;
            const double *restrict p = sr + j * n_t, *restrict q = si + j * n_t;
            double *restrict v_r = vr + j * n_t, *restrict v_i = vi + j * n_t;
            double *restrict outr = rr + s->rhs_row[j] * n_t, *restrict outi = ri + s->rhs_row[j] * n_t;
            double v0r = s->v0_re[j], v0i = s->v0_im[j];
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double nr = v0r + y_r[t], ni = v0i + y_i[t];
                double dr = nr - v_r[t], di = ni - v_i[t];
                double d = dr * dr + di * di, m = dv2[t];
                dv2[t] = (d > m ? d : m) + (d - d);  /* + (d - d): NaN if d is NaN or inf, else 0 */
                v_r[t] = nr;
                v_i[t] = ni;
                double w = 1.0 / (nr * nr + ni * ni);
                outr[t] = (p[t] * nr + q[t] * ni) * w;
                outi[t] = (p[t] * ni - q[t] * nr) * w;
            }
        }
    }

    /* Iterations first+1 .. max_iter of the fixed point on n_t steps; ``its[t]`` gets the first
       iteration after which step t met the test (-1 until then), ``last`` carries each step's
       previous change. Stops early once at most stop_left steps are unconverged; returns the
       iteration it stopped after. work: 4 n n_t + n_t doubles. */
    static int64_t pf_iterate(const pf_system *s, double *vr, double *vi, const double *sr, const double *si,
                              double *last, int64_t *its, int64_t first, int64_t max_iter, double tol,
                              Py_ssize_t stop_left, Py_ssize_t n_t, double *work) {
        Py_ssize_t size = s->n * n_t;
        double *rr = work, *ri = work + size, *nr = work + 2 * size, *ni = work + 3 * size, *dv2 = work + 4 * size;
        int64_t k;
        pf_injection(s, vr, vi, sr, si, rr, ri, n_t);
        for (k = first + 1; k <= max_iter; k++) {
            if (n_t == 1) pf_lu_solve_one(s, rr, ri); else pf_lu_solve(s, rr, ri, n_t);
            pf_update(s, rr, ri, sr, si, vr, vi, nr, ni, dv2, n_t);
            double *swap = rr; rr = nr; nr = swap;
            swap = ri; ri = ni; ni = swap;
            Py_ssize_t left = 0;
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double dv = sqrt(dv2[t]);
                /* dv * max(1, rho / (1 - rho)) <= tol with rho = dv / last: the remaining error of a
                   contraction is at most the tolerance (false for rho >= 1 and for NaN) */
                if (its[t] < 0) {
                    if (dv <= tol && dv * dv <= tol * (last[t] - dv)) its[t] = k; else left++;
                }
                last[t] = dv;
            }
            if (left <= stop_left) return k;
        }
        return max_iter;
    }

    /* out = offset + M v (M: CSR rows of complex entries); offset may be NULL (zero). */
    PF_VECTOR static void pf_spmv(Py_ssize_t n_rows, const int64_t *indptr, const int64_t *indices,
                                  const double *m_re, const double *m_im, const double *off_re,
                                  const double *off_im, const double *restrict vr, const double *restrict vi,
                                  double *restrict outr, double *restrict outi, Py_ssize_t n_t) {
        if (n_t == 1) {  /* one step: scalar arithmetic, without the vector loops' set-up per row */
            for (Py_ssize_t r = 0; r < n_rows; r++) {
                double a_r = off_re ? off_re[r] : 0.0, a_i = off_im ? off_im[r] : 0.0;
                for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
                    double x_r = vr[indices[p]], x_i = vi[indices[p]];
                    a_r += m_re[p] * x_r - m_im[p] * x_i;
                    a_i += m_re[p] * x_i + m_im[p] * x_r;
                }
                outr[r] = a_r;
                outi[r] = a_i;
            }
            return;
        }
        for (Py_ssize_t r = 0; r < n_rows; r++) {
            double *o_r = outr + r * n_t, *o_i = outi + r * n_t;
            double c_r = off_re ? off_re[r] : 0.0, c_i = off_im ? off_im[r] : 0.0;
            for (Py_ssize_t t = 0; t < n_t; t++) { o_r[t] = c_r; o_i[t] = c_i; }
            for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
                const double *x_r = vr + indices[p] * n_t, *x_i = vi + indices[p] * n_t;
                double a = m_re[p], b = m_im[p];
                for (Py_ssize_t t = 0; t < n_t; t++) {
                    o_r[t] += a * x_r[t] - b * x_i[t];
                    o_i[t] += a * x_i[t] + b * x_r[t];
                }
            }
        }
    }

    /* Branch b: i_f = yff v_f + yft v_t, i_t = ytf v_f + ytt v_t (y[8 b ..]: re/im of yff, yft, ytf,
       ytt); loading[row[b]] = max(|i_f| sf, |i_t| st) at element stride ld_row, step stride ld_t;
       losses += Re(v_f conj(i_f)) + Re(v_t conj(i_t)). */
    PF_VECTOR static void pf_branch_flows(Py_ssize_t n_br, const int64_t *from_bus, const int64_t *to_bus,
                                          const int64_t *row, const double *y, const double *scale_from,
                                          const double *scale_to, const double *vr, const double *vi,
                                          double *loading, Py_ssize_t ld_row, Py_ssize_t ld_t,
                                          double *restrict losses, Py_ssize_t n_t) {
        if (n_t == 1) {  /* one step: scalar arithmetic, without the vector loop's set-up per branch */
            double sum = 0.0;
            for (Py_ssize_t k = 0; k < n_br; k++) {
                double fr = vr[from_bus[k]], fi = vi[from_bus[k]], tr = vr[to_bus[k]], ti = vi[to_bus[k]];
                const double *c = y + 8 * k;
                double ifr = c[0] * fr - c[1] * fi + c[2] * tr - c[3] * ti;
                double ifi = c[0] * fi + c[1] * fr + c[2] * ti + c[3] * tr;
                double itr = c[4] * fr - c[5] * fi + c[6] * tr - c[7] * ti;
                double iti = c[4] * fi + c[5] * fr + c[6] * ti + c[7] * tr;
                double a = (ifr * ifr + ifi * ifi) * scale_from[k] * scale_from[k];
                double b = (itr * itr + iti * iti) * scale_to[k] * scale_to[k];
                loading[row[k] * ld_row] = sqrt(a > b ? a : b);
                sum += fr * ifr + fi * ifi + tr * itr + ti * iti;
            }
            losses[0] += sum;
            return;
        }
        for (Py_ssize_t k = 0; k < n_br; k++) {
            const double *restrict fr = vr + from_bus[k] * n_t, *restrict fi = vi + from_bus[k] * n_t;
            const double *restrict tr = vr + to_bus[k] * n_t, *restrict ti = vi + to_bus[k] * n_t;
            const double *c = y + 8 * k;
            double ffr = c[0], ffi = c[1], ftr = c[2], fti = c[3], tfr = c[4], tfi = c[5], ttr = c[6], tti = c[7];
            double sf2 = scale_from[k] * scale_from[k], st2 = scale_to[k] * scale_to[k];
            double *restrict out = loading + row[k] * ld_row;
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double ifr = ffr * fr[t] - ffi * fi[t] + ftr * tr[t] - fti * ti[t];
                double ifi = ffr * fi[t] + ffi * fr[t] + ftr * ti[t] + fti * tr[t];
                double itr = tfr * fr[t] - tfi * fi[t] + ttr * tr[t] - tti * ti[t];
                double iti = tfr * fi[t] + tfi * fr[t] + ttr * ti[t] + tti * tr[t];
                double a = (ifr * ifr + ifi * ifi) * sf2, b = (itr * itr + iti * iti) * st2;
                out[t * ld_t] = sqrt(a > b ? a : b);
                losses[t] += fr[t] * ifr + fi[t] * ifi + tr[t] * itr + ti[t] * iti;
            }
        }
    }

    /* out[j] = |v[bus_pos[j]]| per step (NaN where bus_pos[j] < 0), element stride ld_row, step
       stride ld_t. */
    PF_VECTOR static void pf_magnitude(Py_ssize_t n, const int64_t *bus_pos, const double *vr, const double *vi,
                                       double *out, Py_ssize_t ld_row, Py_ssize_t ld_t, Py_ssize_t n_t) {
        for (Py_ssize_t j = 0; j < n; j++) {
            double *restrict o = out + j * ld_row;
            if (bus_pos[j] < 0) {
                for (Py_ssize_t t = 0; t < n_t; t++) o[t * ld_t] = NAN;
                continue;
            }
            const double *restrict a = vr + bus_pos[j] * n_t, *restrict b = vi + bus_pos[j] * n_t;
            for (Py_ssize_t t = 0; t < n_t; t++) o[t * ld_t] = sqrt(a[t] * a[t] + b[t] * b[t]);
        }
    }

    /* The power the slack buses take from the net, net of their own elements: per step
       out_p + j out_q = sum_r V_ref[r] conj(sum_p M[r, p] V[indices[p]]) - own[r] (M: CSR rows). */
    static void pf_slack_power(Py_ssize_t n_ref, const int64_t *indptr, const int64_t *indices, const double *m_re,
                               const double *m_im, const int64_t *ref_bus, const double *vr, const double *vi,
                               const double *own_r, const double *own_i, double *out_p, double *out_q,
                               Py_ssize_t n_t) {
        for (Py_ssize_t t = 0; t < n_t; t++) { out_p[t] = 0.0; out_q[t] = 0.0; }
        for (Py_ssize_t r = 0; r < n_ref; r++) {
            const double *br = vr + ref_bus[r] * n_t, *bi = vi + ref_bus[r] * n_t;
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double ir = 0.0, ii = 0.0;
                for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
                    double xr = vr[indices[p] * n_t + t], xi = vi[indices[p] * n_t + t];
                    ir += m_re[p] * xr - m_im[p] * xi;
                    ii += m_re[p] * xi + m_im[p] * xr;
                }
                out_p[t] += br[t] * ir + bi[t] * ii - own_r[r * n_t + t];
                out_q[t] += bi[t] * ir - br[t] * ii - own_i[r * n_t + t];
            }
        }
    }

    /* out[rows[e]] += coef[e] x[., e] for every element e with rows[e] >= 0; x[t, e] is at
       x + t * x_t + e * x_e; out rows of n_t steps. */
    static void pf_add_inputs(Py_ssize_t n_el, const int64_t *rows, const double *coef, const double *x,
                              Py_ssize_t x_t, Py_ssize_t x_e, double *out, Py_ssize_t n_t) {
        for (Py_ssize_t e = 0; e < n_el; e++) {
            if (rows[e] < 0) continue;
            double c = coef[e], *restrict o = out + rows[e] * n_t;
            const double *xe = x + e * x_e;
            for (Py_ssize_t t = 0; t < n_t; t++) o[t] += c * xe[t * x_t];
        }
    }

    /* finite[t] = 0 if any of the n_el inputs of step t is NaN or infinite. */
    static void pf_check_inputs(Py_ssize_t n_el, const double *x, Py_ssize_t x_t, Py_ssize_t x_e,
                                unsigned char *finite, Py_ssize_t n_t) {
        for (Py_ssize_t t = 0; t < n_t; t++) {
            const double *xt = x + t * x_t;
            unsigned char ok = finite[t];
            for (Py_ssize_t e = 0; e < n_el; e++) ok &= isfinite(xt[e * x_e]) != 0;
            finite[t] = ok;
        }
    }
    """
    ctypedef struct pf_system:
        Py_ssize_t n
        const int64_t *l_indptr
        const int64_t *l_indices
        const int64_t *u_indptr
        const int64_t *u_indices
        const int64_t *rhs_row
        const int64_t *sol_row
        const double *l_re
        const double *l_im
        const double *u_re
        const double *u_im
        const double *d_re
        const double *d_im
        const double *v0_re
        const double *v0_im
    void pf_lu_solve(const pf_system *s, double *xr, double *xi, Py_ssize_t n_t) nogil
    void pf_lu_solve_one(const pf_system *s, double *xr, double *xi) nogil
    void pf_injection(const pf_system *s, const double *vr, const double *vi, const double *sr, const double *si,
                      double *rr, double *ri, Py_ssize_t n_t) nogil
    void pf_update(const pf_system *s, const double *yr, const double *yi, const double *sr, const double *si,
                   double *vr, double *vi, double *rr, double *ri, double *dv2, Py_ssize_t n_t) nogil
    int64_t pf_iterate(const pf_system *s, double *vr, double *vi, const double *sr, const double *si,
                       double *last, int64_t *its, int64_t first, int64_t max_iter, double tol,
                       Py_ssize_t stop_left, Py_ssize_t n_t, double *work) nogil
    void pf_spmv(Py_ssize_t n_rows, const int64_t *indptr, const int64_t *indices, const double *m_re,
                 const double *m_im, const double *off_re, const double *off_im, const double *vr,
                 const double *vi, double *outr, double *outi, Py_ssize_t n_t) nogil
    void pf_branch_flows(Py_ssize_t n_br, const int64_t *from_bus, const int64_t *to_bus, const int64_t *row,
                         const double *y, const double *scale_from, const double *scale_to, const double *vr,
                         const double *vi, double *loading, Py_ssize_t ld_row, Py_ssize_t ld_t, double *losses,
                         Py_ssize_t n_t) nogil
    void pf_magnitude(Py_ssize_t n, const int64_t *bus_pos, const double *vr, const double *vi, double *out,
                      Py_ssize_t ld_row, Py_ssize_t ld_t, Py_ssize_t n_t) nogil
    void pf_slack_power(Py_ssize_t n_ref, const int64_t *indptr, const int64_t *indices, const double *m_re,
                        const double *m_im, const int64_t *ref_bus, const double *vr, const double *vi,
                        const double *own_r, const double *own_i, double *out_p, double *out_q, Py_ssize_t n_t) nogil
    void pf_add_inputs(Py_ssize_t n_el, const int64_t *rows, const double *coef, const double *x, Py_ssize_t x_t,
                       Py_ssize_t x_e, double *out, Py_ssize_t n_t) nogil
    void pf_check_inputs(Py_ssize_t n_el, const double *x, Py_ssize_t x_t, Py_ssize_t x_e, unsigned char *finite,
                         Py_ssize_t n_t) nogil


cdef int _check(bint ok, str what) except -1:
    """Shapes are checked (a mismatch would read or write out of bounds); index values are the
    caller's contract (in range), not checked."""
    if not ok:
        raise ValueError(f"kernel argument shapes do not match: {what}")
    return 0


cdef int _check_index(const int64_t[::1] index, Py_ssize_t size, str what, bint none_allowed=False) except -1:
    """Every entry of ``index`` is below ``size`` and not negative (``none_allowed``: negative
    entries mean "none" and are skipped by the kernel)."""
    cdef Py_ssize_t k
    cdef int64_t top = -1, bottom = 0
    for k in range(index.shape[0]):
        top = index[k] if index[k] > top else top
        bottom = index[k] if index[k] < bottom else bottom
    return _check(top < size and (none_allowed or bottom >= 0), what)


cdef inline const double* _c(const double[:, :, ::1] a, Py_ssize_t part) noexcept nogil:
    """Start of the real (0) or imaginary (1) part of a split (2, n, T) array (any size, also 0)."""
    return <const double*>(<const char*>&a[0, 0, 0] + part * a.strides[0]) if a.shape[1] * a.shape[2] else NULL


cdef inline double* _w(double[:, :, ::1] a, Py_ssize_t part) noexcept nogil:
    return <double*>(<char*>&a[0, 0, 0] + part * a.strides[0]) if a.shape[1] * a.shape[2] else NULL


cdef class FixedPoint:
    """The constant arrays of one factorised system, held once so a call converts only its own
    arguments (each array argument costs ~0.5 us to acquire).

    Factors of Pr Y Pc = L U: L unit lower triangular, strictly-lower entries (CSC: l_indptr,
    l_indices, l_data (2, nnz)); U strictly-upper entries (CSC) and the inverse of its diagonal
    ``u_diag_inv`` (2, n). Bus j's current goes to row ``rhs_row[j]`` of a right-hand side, its
    voltage is row ``sol_row[j]`` of a solution; ``v0`` (2, n) is the no-load voltage.
    """

    cdef const int64_t[::1] l_indptr, l_indices, u_indptr, u_indices, rhs_row, sol_row
    cdef const double[:, ::1] l_data, u_data, u_diag_inv, v0
    cdef pf_system sys
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
        self.sys.n = n
        self.sys.l_indptr = &l_indptr[0]
        self.sys.u_indptr = &u_indptr[0]
        if n:  # pointers into the held arrays (they live as long as this object)
            self.sys.rhs_row, self.sys.sol_row = &rhs_row[0], &sol_row[0]
            self.sys.d_re, self.sys.d_im = &u_diag_inv[0, 0], &u_diag_inv[1, 0]
            self.sys.v0_re, self.sys.v0_im = &v0[0, 0], &v0[1, 0]
        if l_indptr[n]:
            self.sys.l_indices, self.sys.l_re, self.sys.l_im = &l_indices[0], &l_data[0, 0], &l_data[1, 0]
        if u_indptr[n]:
            self.sys.u_indices, self.sys.u_re, self.sys.u_im = &u_indices[0], &u_data[0, 0], &u_data[1, 0]

    cdef int _check_block(self, const double[:, :, ::1] a, Py_ssize_t n_t, str what) except -1:
        return _check(a.shape[0] == 2 and a.shape[1] == self.n and a.shape[2] == n_t, what)

    def lu_solve(self, double[:, :, ::1] x):
        """Solve L U y = x in place for every time step (column-oriented CSC sweeps); x: (2, n, T)."""
        cdef Py_ssize_t n_t = x.shape[2]
        self._check_block(x, n_t, "lu_solve")
        if self.n == 0 or n_t == 0:
            return
        with nogil:
            if n_t == 1:
                pf_lu_solve_one(&self.sys, _w(x, 0), _w(x, 1))
            else:
                pf_lu_solve(&self.sys, _w(x, 0), _w(x, 1), n_t)

    def injection(self, const double[:, :, ::1] v, const double[:, :, ::1] s, double[:, :, ::1] rhs):
        """The load current conj(S / V) of bus j, every step, written to row ``rhs_row[j]`` of rhs."""
        cdef Py_ssize_t n_t = v.shape[2]
        self._check_block(v, n_t, "injection")
        self._check_block(s, n_t, "injection")
        self._check_block(rhs, n_t, "injection")
        if self.n == 0 or n_t == 0:
            return
        with nogil:
            pf_injection(&self.sys, _c(v, 0), _c(v, 1), _c(s, 0), _c(s, 1), _w(rhs, 0), _w(rhs, 1), n_t)

    def update(self, const double[:, :, ::1] y, const double[:, :, ::1] s, double[:, :, ::1] v,
               double[:, :, ::1] rhs, double[::1] dv2):
        """One fixed-point step after the solve: V_j = V0_j + y[sol_row[j]] (IN/OUT v); ``dv2[t]`` the
        largest |V_new - V_old|^2 over buses (NaN if any is NaN or infinite); the next right-hand side
        conj(S / V_new) at row ``rhs_row[j]`` (OUT rhs). ``y`` and ``rhs`` must be different arrays."""
        cdef Py_ssize_t n_t = v.shape[2], t
        self._check_block(y, n_t, "update")
        self._check_block(s, n_t, "update")
        self._check_block(v, n_t, "update")
        self._check_block(rhs, n_t, "update")
        _check(dv2.shape[0] == n_t, "update")
        if n_t == 0:
            return
        if self.n == 0:
            for t in range(n_t):
                dv2[t] = 0.0
            return
        with nogil:
            pf_update(&self.sys, _c(y, 0), _c(y, 1), _c(s, 0), _c(s, 1), _w(v, 0), _w(v, 1), _w(rhs, 0),
                      _w(rhs, 1), &dv2[0], n_t)

    def iterate(self, double[:, :, ::1] v, const double[:, :, ::1] s, double[::1] last, int64_t[::1] iterations,
                int64_t first, int64_t max_iter, double tolerance_pu, Py_ssize_t stop_left=0):
        """Iterations ``first + 1 .. max_iter`` of the fixed point from ``v`` (IN/OUT, (2, n, T)) for
        the injections ``s`` (2, n, T): per iteration the currents conj(S / V), ``lu_solve`` and
        V = V0 + solution. A step t has converged when its largest change dv, times max(1, rho /
        (1 - rho)) with rho = dv / ``last[t]`` (its previous change, IN/OUT), is at most
        ``tolerance_pu``; ``iterations[t]`` (IN/OUT, -1 = not yet) gets the iteration it first did.
        Converged steps keep iterating with the others. Returns the iteration it stopped after:
        as soon as at most ``stop_left`` steps are unconverged, else ``max_iter``."""
        cdef Py_ssize_t n_t = v.shape[2], t
        cdef int64_t k
        cdef double *work
        self._check_block(v, n_t, "iterate")
        self._check_block(s, n_t, "iterate")
        _check(last.shape[0] == n_t and iterations.shape[0] == n_t, "iterate")
        if n_t == 0 or first >= max_iter:
            return first
        if self.n == 0:  # nothing to solve: V = V0 at once
            for t in range(n_t):
                if iterations[t] < 0:
                    iterations[t] = first + 1
                last[t] = 0.0
            return first + 1
        work = <double*>malloc((4 * self.n * n_t + n_t) * sizeof(double))
        if work == NULL:
            raise MemoryError()
        try:
            with nogil:
                k = pf_iterate(&self.sys, _w(v, 0), _w(v, 1), _c(s, 0), _c(s, 1), &last[0], &iterations[0],
                               first, max_iter, tolerance_pu, stop_left, n_t, work)
        finally:
            free(work)
        return k


def spmv(const int64_t[::1] indptr, const int64_t[::1] indices, const double[:, ::1] data,
         const double[:, :, ::1] v, double[:, :, ::1] out, const double[:, ::1] offset=None):
    """out (2, rows, T) = offset[:, :, None] + M v for a sparse complex M (CSR: indptr, indices, data
    (2, nnz)); ``offset`` (2, rows) or None for zero."""
    cdef Py_ssize_t n_rows = out.shape[1], n_t = out.shape[2]
    cdef const double *off_re = NULL
    cdef const double *off_im = NULL
    _check(v.shape[0] == 2 and out.shape[0] == 2 and v.shape[2] == n_t and indptr.shape[0] == n_rows + 1
           and data.shape[0] == 2
           and indices.shape[0] >= indptr[n_rows] and data.shape[1] >= indptr[n_rows], "spmv")
    _check(offset is None or (offset.shape[0] == 2 and offset.shape[1] == n_rows), "spmv offset")
    if n_t == 0 or n_rows == 0:
        return
    if offset is not None:
        off_re, off_im = &offset[0, 0], &offset[1, 0]
    if indptr[n_rows] == 0:
        with nogil:
            pf_spmv(n_rows, &indptr[0], NULL, NULL, NULL, off_re, off_im, NULL, NULL, _w(out, 0), _w(out, 1), n_t)
        return
    with nogil:
        pf_spmv(n_rows, &indptr[0], &indices[0], &data[0, 0], &data[1, 0], off_re, off_im, _c(v, 0), _c(v, 1),
                _w(out, 0), _w(out, 1), n_t)


def slack_power(const int64_t[::1] indptr, const int64_t[::1] indices, const double[:, ::1] data,
                const int64_t[::1] ref_bus, const double[:, :, ::1] v, const double[:, :, ::1] own, double[:, ::1] out):
    """``out`` (2, T): P and Q (pu) the slack buses ``ref_bus`` take from the net, net of their own
    elements' injections ``own`` (2, n_ref, T): sum over r of V[ref_bus[r]] conj(I_r) - own[r] with
    I = M V (M: the slack buses' rows of Ybus, CSR with data (2, nnz))."""
    cdef Py_ssize_t n_ref = ref_bus.shape[0], n_t = v.shape[2], k, t
    _check(v.shape[0] == 2 and own.shape[0] == 2 and own.shape[1] == n_ref and own.shape[2] == n_t
           and out.shape[0] == 2 and out.shape[1] == n_t and indptr.shape[0] == n_ref + 1 and data.shape[0] == 2
           and indices.shape[0] >= indptr[n_ref] and data.shape[1] >= indptr[n_ref], "slack_power")
    _check_index(ref_bus, v.shape[1], "slack_power ref_bus")
    if n_t == 0:
        return
    if n_ref == 0 or indptr[n_ref] == 0:
        for k in range(n_t):
            out[0, k] = 0.0
            out[1, k] = 0.0
        for k in range(n_ref):
            for t in range(n_t):
                out[0, t] -= own[0, k, t]
                out[1, t] -= own[1, k, t]
        return
    with nogil:
        pf_slack_power(n_ref, &indptr[0], &indices[0], &data[0, 0], &data[1, 0], &ref_bus[0], _c(v, 0), _c(v, 1),
                       _c(own, 0), _c(own, 1), &out[0, 0], &out[1, 0], n_t)


def branch_flows(const int64_t[::1] from_bus, const int64_t[::1] to_bus, const double[:, ::1] y,
                 const double[::1] scale_from, const double[::1] scale_to, const double[:, :, ::1] v,
                 double[:, :] loading, double[::1] losses, const int64_t[::1] rows=None):
    """Per branch b with I_f = yff V_f + yft V_t and I_t = ytf V_f + ytt V_t (``y[b]`` = re, im of
    yff, yft, ytf, ytt; shape (n_branches, 8)): ``loading[rows[b]]`` (default row b) = max(|I_f|
    scale_from, |I_t| scale_to) for every step (OUT; any strides, e.g. the transposed view of a
    steps x elements array) and ``losses`` += Re(V_f conj(I_f)) + Re(V_t conj(I_t)) (IN/OUT)."""
    cdef Py_ssize_t n_br = from_bus.shape[0], n_t = v.shape[2]
    _check(v.shape[0] == 2 and to_bus.shape[0] == n_br and y.shape[0] == n_br and y.shape[1] == 8
           and scale_from.shape[0] == n_br and scale_to.shape[0] == n_br and losses.shape[0] == n_t
           and loading.shape[1] == n_t and (rows is None and loading.shape[0] == n_br
                                            or rows is not None and rows.shape[0] == n_br),
           "branch_flows")
    if n_t == 0 or n_br == 0:
        return
    if rows is None:
        rows = np.arange(n_br, dtype=np.int64)
    _check_index(rows, loading.shape[0], "branch_flows rows")
    with nogil:
        pf_branch_flows(n_br, &from_bus[0], &to_bus[0], &rows[0], &y[0, 0], &scale_from[0], &scale_to[0],
                        _c(v, 0), _c(v, 1), &loading[0, 0], loading.strides[0] // sizeof(double),
                        loading.strides[1] // sizeof(double), &losses[0], n_t)


def magnitude(const double[:, :, ::1] v, const int64_t[::1] bus_pos, double[:, :] out):
    """``out[j]`` = |v[bus_pos[j]]| per step, NaN where ``bus_pos[j] < 0`` (``out``: any strides)."""
    cdef Py_ssize_t n = out.shape[0], n_t = v.shape[2]
    _check(v.shape[0] == 2 and bus_pos.shape[0] == n and out.shape[1] == n_t, "magnitude")
    if n_t == 0 or n == 0:
        return
    with nogil:
        pf_magnitude(n, &bus_pos[0], _c(v, 0), _c(v, 1), &out[0, 0], out.strides[0] // sizeof(double),
                     out.strides[1] // sizeof(double), n_t)


cdef class Injector:
    """The per-unit injections of T steps at some rows (buses), from the driven inputs (kW, kvar).

    Row r at step t: ``const[:, r]`` plus, for every P input e with ``p_rows[e] == r``,
    ``p_coef[e] * p[t, e]`` in the real part and, for every Q input with ``q_rows[e] == r``,
    ``q_coef[e] * q[t, e]`` in the imaginary part (``-1``: the input reaches none of these rows).
    """

    cdef const double[:, ::1] const
    cdef const int64_t[::1] p_rows, q_rows
    cdef const double[::1] p_coef, q_coef
    cdef readonly Py_ssize_t n_rows, n_p, n_q

    def __init__(self, const double[:, ::1] const, const int64_t[::1] p_rows, const double[::1] p_coef,
                 const int64_t[::1] q_rows, const double[::1] q_coef):
        _check(const.shape[0] == 2 and p_coef.shape[0] == p_rows.shape[0] and q_coef.shape[0] == q_rows.shape[0],
               "Injector")
        self.n_rows, self.n_p, self.n_q = const.shape[1], p_rows.shape[0], q_rows.shape[0]
        _check_index(p_rows, self.n_rows, "Injector p_rows", True)
        _check_index(q_rows, self.n_rows, "Injector q_rows", True)
        self.const, self.p_rows, self.p_coef, self.q_rows, self.q_coef = const, p_rows, p_coef, q_rows, q_coef

    def fill(self, const double[:, :] p, const double[:, :] q, double[:, :, ::1] out, unsigned char[::1] finite=None):
        """``out`` (2, n_rows, T) = the injections of the steps in the rows of ``p`` (T, n_p) and ``q``
        (T, n_q) (any strides); ``finite`` (T,) if given: 1 where every input of the step is finite
        (also inputs that reach none of the rows), else 0."""
        cdef Py_ssize_t n_t = out.shape[2], r, t
        cdef unsigned char *ok = NULL
        _check(p.shape[0] == n_t and q.shape[0] == n_t and p.shape[1] == self.n_p and q.shape[1] == self.n_q
               and out.shape[0] == 2 and out.shape[1] == self.n_rows
               and (finite is None or finite.shape[0] == n_t), "Injector.fill")
        if n_t == 0:
            return
        for r in range(self.n_rows):
            for t in range(n_t):
                out[0, r, t] = self.const[0, r]
                out[1, r, t] = self.const[1, r]
        if finite is not None:
            finite[:] = 1
            ok = &finite[0]
        with nogil:
            if self.n_p:
                pf_add_inputs(self.n_p, &self.p_rows[0], &self.p_coef[0], &p[0, 0], p.strides[0] // sizeof(double),
                              p.strides[1] // sizeof(double), _w(out, 0), n_t)
                if ok != NULL:
                    pf_check_inputs(self.n_p, &p[0, 0], p.strides[0] // sizeof(double),
                                    p.strides[1] // sizeof(double), ok, n_t)
            if self.n_q:
                pf_add_inputs(self.n_q, &self.q_rows[0], &self.q_coef[0], &q[0, 0], q.strides[0] // sizeof(double),
                              q.strides[1] // sizeof(double), _w(out, 1), n_t)
                if ok != NULL:
                    pf_check_inputs(self.n_q, &q[0, 0], q.strides[0] // sizeof(double),
                                    q.strides[1] // sizeof(double), ok, n_t)
