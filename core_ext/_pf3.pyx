# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# distutils: extra_compile_args = -fno-math-errno
"""Compiled kernels of the unbalanced (three-phase) load flow. ``core_ext/_pf3_py.py`` is their
specification; the test suite checks both agree on random inputs.

Layouts as in the twin: sequence voltages ``v`` (3, 2, n, T) (sequence 0, 1, 2; real, imaginary;
bus; step), per-phase injections ``s`` (2, 3 n, T) with row ``phase * n + j``, one right-hand side
per sequence system ``rhs`` (3, 2, n, T). V_abc = T V012 with T = [[1, 1, 1], [1, a^2, a],
[1, a, a^2]], a = exp(2 pi j / 3); I012 = T^-1 I_abc. The loops are C functions over ``restrict``
pointers with the step as the inner loop, built for AVX-512, AVX2 and SSE2 at once with GCC
(``target_clones``, as ``_pf.pyx``). The triangular solves are ``_pf.FixedPoint.lu_solve``'s.
"""

from libc.math cimport NAN, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

cdef extern from *:
    """
    #include <math.h>
    #if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__GLIBC__)
    #define PF3_VECTOR __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define PF3_VECTOR
    #endif
    #define PF3_AR (-0.5)
    #define PF3_AI 0.86602540378443864676  /* a = exp(2 pi j / 3) = AR + j AI; a^2 = AR - j AI */

    /* The rows of the three sequence systems and the no-load V012 (3, 2, n). */
    typedef struct {
        Py_ssize_t n;
        const int64_t *rhs_row, *sol_row;  /* (3, n) */
        const double *v0;                  /* (3, 2, n) */
    } pf3_rows;

    /* Bus j, steps 0..n_t-1: V012 at v0r..v2i -> I012 = T^-1 conj(S_abc / (T V012)) into the rows
       rhs_row[q, j] of rhs. */
    static inline void pf3_bus_currents(const pf3_rows *r, Py_ssize_t j, const double *restrict v0r,
                                        const double *restrict v0i, const double *restrict v1r,
                                        const double *restrict v1i, const double *restrict v2r,
                                        const double *restrict v2i, const double *restrict s, double *restrict rhs,
                                        Py_ssize_t n_t) {
        Py_ssize_t n = r->n, plane = n * n_t;
        const double *sar = s + (0 * n + j) * n_t, *sbr = s + (1 * n + j) * n_t, *scr = s + (2 * n + j) * n_t;
        const double *sai = sar + 3 * plane, *sbi = sbr + 3 * plane, *sci = scr + 3 * plane;
        double *i0r = rhs + (0 * 2 * n + r->rhs_row[j]) * n_t, *i0i = i0r + plane;
        double *i1r = rhs + (1 * 2 * n + r->rhs_row[n + j]) * n_t, *i1i = i1r + plane;
        double *i2r = rhs + (2 * 2 * n + r->rhs_row[2 * n + j]) * n_t, *i2i = i2r + plane;
        for (Py_ssize_t t = 0; t < n_t; t++) {
            /* phase voltages */
            double war = v1r[t] + v2r[t], wai = v1i[t] + v2i[t];          /* V1 + V2 */
            double dr = v1r[t] - v2r[t], di = v1i[t] - v2i[t];            /* V1 - V2 */
            double var = v0r[t] + war, vai = v0i[t] + wai;
            /* a^2 V1 + a V2 = AR (V1 + V2) + j AI (V2 - V1) */
            double vbr = v0r[t] + PF3_AR * war + PF3_AI * di, vbi = v0i[t] + PF3_AR * wai - PF3_AI * dr;
            double vcr = v0r[t] + PF3_AR * war - PF3_AI * di, vci = v0i[t] + PF3_AR * wai + PF3_AI * dr;
            /* wye currents conj(S / V) */
            double ma = 1.0 / (var * var + vai * vai), mb = 1.0 / (vbr * vbr + vbi * vbi);
            double mc = 1.0 / (vcr * vcr + vci * vci);
            double iar = (sar[t] * var + sai[t] * vai) * ma, iai = (sar[t] * vai - sai[t] * var) * ma;
            double ibr = (sbr[t] * vbr + sbi[t] * vbi) * mb, ibi = (sbr[t] * vbi - sbi[t] * vbr) * mb;
            double icr = (scr[t] * vcr + sci[t] * vci) * mc, ici = (scr[t] * vci - sci[t] * vcr) * mc;
            /* I0 = (Ia + Ib + Ic) / 3, I1 = (Ia + a Ib + a^2 Ic) / 3, I2 = (Ia + a^2 Ib + a Ic) / 3 */
            double sr = ibr + icr, si = ibi + ici, er = ibr - icr, ei = ibi - ici;
            i0r[t] = (iar + sr) / 3.0;
            i0i[t] = (iai + si) / 3.0;
            i1r[t] = (iar + PF3_AR * sr - PF3_AI * ei) / 3.0;
            i1i[t] = (iai + PF3_AR * si + PF3_AI * er) / 3.0;
            i2r[t] = (iar + PF3_AR * sr + PF3_AI * ei) / 3.0;
            i2i[t] = (iai + PF3_AR * si - PF3_AI * er) / 3.0;
        }
    }

    PF3_VECTOR static void pf3_currents(const pf3_rows *r, const double *v, const double *s, double *rhs,
                                        Py_ssize_t n_t) {
        Py_ssize_t n = r->n, plane = n * n_t;
        for (Py_ssize_t j = 0; j < r->n; j++) {
            const double *b = v + j * n_t;
            pf3_bus_currents(r, j, b, b + plane, b + 2 * plane, b + 3 * plane, b + 4 * plane, b + 5 * plane, s, rhs,
                             n_t);
        }
    }

    /* V012 = V0 + y[q, sol_row[q, j]]; dv2[t] = the largest |dV_phase|^2 (NaN if any is NaN or inf); the
       next currents into rhs. */
    PF3_VECTOR static void pf3_update(const pf3_rows *r, const double *y, const double *s, double *v, double *rhs,
                                      double *restrict dv2, Py_ssize_t n_t) {
        Py_ssize_t n = r->n;
        for (Py_ssize_t t = 0; t < n_t; t++) dv2[t] = 0.0;
        for (Py_ssize_t j = 0; j < n; j++) {
            double *restrict x[6];
            const double *restrict sol[6];
            double base[6];
            for (int q = 0; q < 3; q++) {
                for (int part = 0; part < 2; part++) {
                    x[2 * q + part] = v + ((2 * q + part) * n + j) * n_t;
                    sol[2 * q + part] = y + ((2 * q + part) * n + r->sol_row[q * n + j]) * n_t;
                    base[2 * q + part] = r->v0[(2 * q + part) * n + j];
                }
            }
            double *restrict x0r = x[0], *restrict x0i = x[1], *restrict x1r = x[2], *restrict x1i = x[3];
            double *restrict x2r = x[4], *restrict x2i = x[5];
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double n0r = base[0] + sol[0][t], n0i = base[1] + sol[1][t];
                double n1r = base[2] + sol[2][t], n1i = base[3] + sol[3][t];
                double n2r = base[4] + sol[4][t], n2i = base[5] + sol[5][t];
                double d0r = n0r - x0r[t], d0i = n0i - x0i[t], d1r = n1r - x1r[t], d1i = n1i - x1i[t];
                double d2r = n2r - x2r[t], d2i = n2i - x2i[t];
                double wr = d1r + d2r, wi = d1i + d2i, er = d1r - d2r, ei = d1i - d2i;
                double dar = d0r + wr, dai = d0i + wi;
                double dbr = d0r + PF3_AR * wr + PF3_AI * ei, dbi = d0i + PF3_AR * wi - PF3_AI * er;
                double dcr = d0r + PF3_AR * wr - PF3_AI * ei, dci = d0i + PF3_AR * wi + PF3_AI * er;
                double da = dar * dar + dai * dai, db = dbr * dbr + dbi * dbi, dc = dcr * dcr + dci * dci;
                double d = da > db ? da : db;
                d = d > dc ? d : dc;
                double m = dv2[t];
                /* + (x - x): NaN if any change is NaN or inf, else 0 */
                dv2[t] = (d > m ? d : m) + (da - da) + (db - db) + (dc - dc);
                x0r[t] = n0r; x0i[t] = n0i; x1r[t] = n1r; x1i[t] = n1i; x2r[t] = n2r; x2i[t] = n2i;
            }
            pf3_bus_currents(r, j, x0r, x0i, x1r, x1i, x2r, x2i, s, rhs, n_t);
        }
    }

    /* Phase magnitudes, unbalance factor and |V0| of output bus j = internal bus pos[j] (NaN if < 0);
       outputs at element stride ld_*, step stride ld_*_t (vm: phase stride ld_vm_p). */
    PF3_VECTOR static void pf3_phase_voltages(Py_ssize_t n_out, Py_ssize_t n_bus, const int64_t *pos,
                                              const double *v, double *vm, Py_ssize_t ld_vm, Py_ssize_t ld_vm_p,
                                              Py_ssize_t ld_vm_t, double *vuf, Py_ssize_t ld_u, Py_ssize_t ld_u_t,
                                              double *v0m, Py_ssize_t ld_z, Py_ssize_t ld_z_t, Py_ssize_t n_t) {
        Py_ssize_t plane = n_bus * n_t;
        for (Py_ssize_t j = 0; j < n_out; j++) {
            double *ma = vm + j * ld_vm, *mb = ma + ld_vm_p, *mc = ma + 2 * ld_vm_p;
            double *u = vuf + j * ld_u, *z = v0m + j * ld_z;
            if (pos[j] < 0) {
                for (Py_ssize_t t = 0; t < n_t; t++) {
                    ma[t * ld_vm_t] = NAN; mb[t * ld_vm_t] = NAN; mc[t * ld_vm_t] = NAN;
                    u[t * ld_u_t] = NAN; z[t * ld_z_t] = NAN;
                }
                continue;
            }
            const double *b = v + pos[j] * n_t;
            const double *v0r = b, *v0i = b + plane, *v1r = b + 2 * plane, *v1i = b + 3 * plane;
            const double *v2r = b + 4 * plane, *v2i = b + 5 * plane;
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double wr = v1r[t] + v2r[t], wi = v1i[t] + v2i[t], er = v1r[t] - v2r[t], ei = v1i[t] - v2i[t];
                double ar = v0r[t] + wr, ai = v0i[t] + wi;
                double br = v0r[t] + PF3_AR * wr + PF3_AI * ei, bi = v0i[t] + PF3_AR * wi - PF3_AI * er;
                double cr = v0r[t] + PF3_AR * wr - PF3_AI * ei, ci = v0i[t] + PF3_AR * wi + PF3_AI * er;
                ma[t * ld_vm_t] = sqrt(ar * ar + ai * ai);
                mb[t * ld_vm_t] = sqrt(br * br + bi * bi);
                mc[t * ld_vm_t] = sqrt(cr * cr + ci * ci);
                u[t * ld_u_t] = sqrt((v2r[t] * v2r[t] + v2i[t] * v2i[t]) / (v1r[t] * v1r[t] + v1i[t] * v1i[t])) * 100.0;
                z[t * ld_z_t] = sqrt(v0r[t] * v0r[t] + v0i[t] * v0i[t]);
            }
        }
    }

    /* X_abc = T X012 of one complex quantity (scalars). */
    #define PF3_PHASES(x0r, x0i, x1r, x1i, x2r, x2i, ar, ai, br, bi, cr, ci) do { \
        double s_r = (x1r) + (x2r), s_i = (x1i) + (x2i), e_r = (x1r) - (x2r), e_i = (x1i) - (x2i); \
        ar = (x0r) + s_r; ai = (x0i) + s_i; \
        br = (x0r) + PF3_AR * s_r + PF3_AI * e_i; bi = (x0i) + PF3_AR * s_i - PF3_AI * e_r; \
        cr = (x0r) + PF3_AR * s_r - PF3_AI * e_i; ci = (x0i) + PF3_AR * s_i + PF3_AI * e_r; } while (0)

    /* One sequence's branch-end currents: I_f = yff V_f + yft V_t, I_t = ytf V_f + ytt V_t (c: 8 doubles). */
    #define PF3_TWO_PORT(c, fr, fi, gr, gi, ifr, ifi, itr, iti) do { \
        ifr = c[0] * (fr) - c[1] * (fi) + c[2] * (gr) - c[3] * (gi); \
        ifi = c[0] * (fi) + c[1] * (fr) + c[2] * (gi) + c[3] * (gr); \
        itr = c[4] * (fr) - c[5] * (fi) + c[6] * (gr) - c[7] * (gi); \
        iti = c[4] * (fi) + c[5] * (fr) + c[6] * (gi) + c[7] * (gr); } while (0)

    /* Branch k: per sequence q I_f = yff V_f + yft V_t, I_t = ytf V_f + ytt V_t (y[(q n_br + k) 8 ..]);
       per phase value = max(|I_f| sf, |I_t| st) (element row[k], strides ld_*), peak = the largest phase
       value * peak_scale (NaN if any is NaN); losses += sum over phases of Re(V_f conj(I_f) + V_t conj(I_t)).
       Written with scalars only, so the loop over the steps vectorises. */
    PF3_VECTOR static void pf3_branch_flows(Py_ssize_t n_br, Py_ssize_t n_bus, const int64_t *from_bus,
                                            const int64_t *to_bus, const int64_t *row, const double *y,
                                            const double *scale_from, const double *scale_to,
                                            const double *peak_scale, const double *v, double *value,
                                            Py_ssize_t ld_v, Py_ssize_t ld_v_p, Py_ssize_t ld_v_t, double *peak,
                                            Py_ssize_t ld_p, Py_ssize_t ld_p_t, double *restrict losses,
                                            Py_ssize_t n_t) {
        Py_ssize_t plane = n_bus * n_t;
        for (Py_ssize_t k = 0; k < n_br; k++) {
            const double *restrict f = v + from_bus[k] * n_t, *restrict g = v + to_bus[k] * n_t;
            const double *c0 = y + (0 * n_br + k) * 8, *c1 = y + (1 * n_br + k) * 8, *c2 = y + (2 * n_br + k) * 8;
            double sf2 = scale_from[k] * scale_from[k], st2 = scale_to[k] * scale_to[k], ps = peak_scale[k];
            double *va = value + row[k] * ld_v, *vb = va + ld_v_p, *vc = va + 2 * ld_v_p;
            double *pk = peak + row[k] * ld_p;
            for (Py_ssize_t t = 0; t < n_t; t++) {
                double f0r = f[t], f0i = f[plane + t], f1r = f[2 * plane + t], f1i = f[3 * plane + t];
                double f2r = f[4 * plane + t], f2i = f[5 * plane + t];
                double g0r = g[t], g0i = g[plane + t], g1r = g[2 * plane + t], g1i = g[3 * plane + t];
                double g2r = g[4 * plane + t], g2i = g[5 * plane + t];
                double a0r, a0i, b0r, b0i, a1r, a1i, b1r, b1i, a2r, a2i, b2r, b2i;  /* I_f, I_t per sequence */
                PF3_TWO_PORT(c0, f0r, f0i, g0r, g0i, a0r, a0i, b0r, b0i);
                PF3_TWO_PORT(c1, f1r, f1i, g1r, g1i, a1r, a1i, b1r, b1i);
                PF3_TWO_PORT(c2, f2r, f2i, g2r, g2i, a2r, a2i, b2r, b2i);
                double vfar, vfai, vfbr, vfbi, vfcr, vfci, vtar, vtai, vtbr, vtbi, vtcr, vtci;
                double ifar, ifai, ifbr, ifbi, ifcr, ifci, itar, itai, itbr, itbi, itcr, itci;
                PF3_PHASES(f0r, f0i, f1r, f1i, f2r, f2i, vfar, vfai, vfbr, vfbi, vfcr, vfci);
                PF3_PHASES(g0r, g0i, g1r, g1i, g2r, g2i, vtar, vtai, vtbr, vtbi, vtcr, vtci);
                PF3_PHASES(a0r, a0i, a1r, a1i, a2r, a2i, ifar, ifai, ifbr, ifbi, ifcr, ifci);
                PF3_PHASES(b0r, b0i, b1r, b1i, b2r, b2i, itar, itai, itbr, itbi, itcr, itci);
                double fa = (ifar * ifar + ifai * ifai) * sf2, ta = (itar * itar + itai * itai) * st2;
                double fb = (ifbr * ifbr + ifbi * ifbi) * sf2, tb = (itbr * itbr + itbi * itbi) * st2;
                double fc = (ifcr * ifcr + ifci * ifci) * sf2, tc = (itcr * itcr + itci * itci) * st2;
                double oa = sqrt(fa > ta ? fa : ta), ob = sqrt(fb > tb ? fb : tb), oc = sqrt(fc > tc ? fc : tc);
                double best = oa > ob ? oa : ob;
                best = best > oc ? best : oc;
                va[t * ld_v_t] = oa;
                vb[t * ld_v_t] = ob;
                vc[t * ld_v_t] = oc;
                pk[t * ld_p_t] = best * ps + (oa - oa) + (ob - ob) + (oc - oc);
                losses[t] += vfar * ifar + vfai * ifai + vfbr * ifbr + vfbi * ifbi + vfcr * ifcr + vfci * ifci
                           + vtar * itar + vtai * itai + vtbr * itbr + vtbi * itbi + vtcr * itcr + vtci * itci;
            }
        }
    }
    """
    ctypedef struct pf3_rows:
        Py_ssize_t n
        const int64_t *rhs_row
        const int64_t *sol_row
        const double *v0
    void pf3_currents(const pf3_rows *r, const double *v, const double *s, double *rhs, Py_ssize_t n_t) nogil
    void pf3_update(const pf3_rows *r, const double *y, const double *s, double *v, double *rhs, double *dv2,
                    Py_ssize_t n_t) nogil
    void pf3_phase_voltages(Py_ssize_t n_out, Py_ssize_t n_bus, const int64_t *pos, const double *v, double *vm,
                            Py_ssize_t ld_vm, Py_ssize_t ld_vm_p, Py_ssize_t ld_vm_t, double *vuf, Py_ssize_t ld_u,
                            Py_ssize_t ld_u_t, double *v0m, Py_ssize_t ld_z, Py_ssize_t ld_z_t, Py_ssize_t n_t) nogil
    void pf3_branch_flows(Py_ssize_t n_br, Py_ssize_t n_bus, const int64_t *from_bus, const int64_t *to_bus,
                          const int64_t *row, const double *y, const double *scale_from, const double *scale_to,
                          const double *peak_scale, const double *v, double *value, Py_ssize_t ld_v,
                          Py_ssize_t ld_v_p, Py_ssize_t ld_v_t, double *peak, Py_ssize_t ld_p, Py_ssize_t ld_p_t,
                          double *losses, Py_ssize_t n_t) nogil


cdef int _check(bint ok, str what) except -1:
    """Shapes are checked (a mismatch would read or write out of bounds); index values are the
    caller's contract (in range) except where ``_check_index`` says otherwise."""
    if not ok:
        raise ValueError(f"kernel argument shapes do not match: {what}")
    return 0


cdef int _check_index(const int64_t[::1] index, Py_ssize_t size, str what) except -1:
    """Every entry of ``index`` is in [0, size)."""
    cdef Py_ssize_t k
    for k in range(index.shape[0]):
        if index[k] < 0 or index[k] >= size:
            raise ValueError(f"kernel index out of range: {what}")
    return 0


cdef inline Py_ssize_t _ld(Py_ssize_t stride) noexcept nogil:
    return stride // sizeof(double)


cdef class Sequences:
    """The rows of the three sequence systems (``rhs_row``, ``sol_row``: (3, n); bus j's current goes
    to row rhs_row[q, j] of sequence q's right-hand side, its voltage is row sol_row[q, j] of the
    solution) and the no-load sequence voltages ``v0`` (3, 2, n) of the kept buses."""

    cdef const int64_t[:, ::1] rhs_row, sol_row
    cdef const double[:, :, ::1] v0
    cdef pf3_rows rows
    cdef readonly Py_ssize_t n

    def __init__(self, const int64_t[:, ::1] rhs_row, const int64_t[:, ::1] sol_row, const double[:, :, ::1] v0):
        n = v0.shape[2]
        _check(rhs_row.shape[0] == 3 and sol_row.shape[0] == 3 and rhs_row.shape[1] == n and sol_row.shape[1] == n
               and v0.shape[0] == 3 and v0.shape[1] == 2, "Sequences")
        self.n = n
        self.rhs_row, self.sol_row, self.v0 = rhs_row, sol_row, v0
        if n:
            _check_index(rhs_row[0], n, "Sequences rhs_row")
            _check_index(rhs_row[1], n, "Sequences rhs_row")
            _check_index(rhs_row[2], n, "Sequences rhs_row")
            _check_index(sol_row[0], n, "Sequences sol_row")
            _check_index(sol_row[1], n, "Sequences sol_row")
            _check_index(sol_row[2], n, "Sequences sol_row")
            self.rows.rhs_row, self.rows.sol_row, self.rows.v0 = &rhs_row[0, 0], &sol_row[0, 0], &v0[0, 0, 0]
        self.rows.n = n

    cdef int _check_v(self, const double[:, :, :, ::1] a, Py_ssize_t n_t, str what) except -1:
        return _check(a.shape[0] == 3 and a.shape[1] == 2 and a.shape[2] == self.n and a.shape[3] == n_t, what)

    cdef int _check_s(self, const double[:, :, ::1] s, Py_ssize_t n_t, str what) except -1:
        return _check(s.shape[0] == 2 and s.shape[1] == 3 * self.n and s.shape[2] == n_t, what)

    def currents(self, const double[:, :, :, ::1] v, const double[:, :, ::1] s, double[:, :, :, ::1] rhs):
        """The sequence currents T^-1 conj(S_abc / (T V012)) of every kept bus and step into ``rhs``."""
        cdef Py_ssize_t n_t = v.shape[3]
        self._check_v(v, n_t, "currents")
        self._check_s(s, n_t, "currents")
        self._check_v(rhs, n_t, "currents")
        if self.n == 0 or n_t == 0:
            return
        with nogil:
            pf3_currents(&self.rows, &v[0, 0, 0, 0], &s[0, 0, 0], &rhs[0, 0, 0, 0], n_t)

    def update(self, const double[:, :, :, ::1] y, const double[:, :, ::1] s, double[:, :, :, ::1] v,
               double[:, :, :, ::1] rhs, double[::1] last, int64_t[::1] iterations, int64_t k, double tolerance_pu):
        """After the three solves ``y``: V_q = V0_q + y_q[sol_row[q]] (IN/OUT ``v``), the next currents into
        ``rhs`` (a different array than ``y``), and the convergence test of iteration ``k`` (see the
        twin). Returns the number of unconverged steps."""
        cdef Py_ssize_t n_t = v.shape[3], t, left = 0
        cdef double *dv2
        cdef double dv
        self._check_v(y, n_t, "update")
        self._check_s(s, n_t, "update")
        self._check_v(v, n_t, "update")
        self._check_v(rhs, n_t, "update")
        _check(last.shape[0] == n_t and iterations.shape[0] == n_t, "update")
        if n_t == 0:
            return 0
        dv2 = <double*>malloc(n_t * sizeof(double))
        if dv2 == NULL:
            raise MemoryError()
        try:
            with nogil:
                if self.n:
                    pf3_update(&self.rows, &y[0, 0, 0, 0], &s[0, 0, 0], &v[0, 0, 0, 0], &rhs[0, 0, 0, 0], dv2, n_t)
                else:
                    for t in range(n_t):
                        dv2[t] = 0.0
                for t in range(n_t):
                    dv = sqrt(dv2[t])
                    if iterations[t] < 0:
                        if dv <= tolerance_pu and dv * dv <= tolerance_pu * (last[t] - dv):
                            iterations[t] = k
                        else:
                            left += 1
                    last[t] = dv
        finally:
            free(dv2)
        return left


def phase_voltages(const double[:, :, :, ::1] v, const int64_t[::1] bus_pos, double[:, :, :] vm, double[:, :] vuf,
                   double[:, :] v0m):
    """Per output bus j (internal bus ``bus_pos[j]``, NaN where < 0) and step: ``vm`` (n, 3, T, any
    strides) the phase magnitudes, ``vuf`` (n, T) = |V2| / |V1| * 100, ``v0m`` (n, T) = |V0|."""
    cdef Py_ssize_t n = vm.shape[0], n_t = v.shape[3], j
    _check(v.shape[0] == 3 and v.shape[1] == 2 and bus_pos.shape[0] == n and vm.shape[1] == 3 and vm.shape[2] == n_t
           and vuf.shape[0] == n and vuf.shape[1] == n_t and v0m.shape[0] == n and v0m.shape[1] == n_t,
           "phase_voltages")
    if n == 0 or n_t == 0:
        return
    for j in range(n):
        if bus_pos[j] >= v.shape[2]:
            raise ValueError("kernel index out of range: phase_voltages bus_pos")
    with nogil:
        pf3_phase_voltages(n, v.shape[2], &bus_pos[0], &v[0, 0, 0, 0], &vm[0, 0, 0], _ld(vm.strides[0]),
                           _ld(vm.strides[1]), _ld(vm.strides[2]), &vuf[0, 0], _ld(vuf.strides[0]),
                           _ld(vuf.strides[1]), &v0m[0, 0], _ld(v0m.strides[0]), _ld(v0m.strides[1]), n_t)


def branch_phase_flows(const int64_t[::1] from_bus, const int64_t[::1] to_bus, const double[:, :, ::1] y,
                       const double[::1] scale_from, const double[::1] scale_to, const double[::1] peak_scale,
                       const double[:, :, :, ::1] v, double[:, :, :] value, double[:, :] peak, double[::1] losses,
                       const int64_t[::1] rows):
    """Per branch b, the phase currents at both ends: ``value[rows[b], phase]`` (n_rows, 3, T, any
    strides) = max(|I_f| scale_from, |I_t| scale_to), ``peak[rows[b]]`` the largest of the three times
    ``peak_scale[b]``; ``losses`` (T,) += the real power into the branch over both ends and phases
    (``y`` (3, n_br, 8): per sequence re, im of yff, yft, ytf, ytt)."""
    cdef Py_ssize_t n_br = from_bus.shape[0], n_t = v.shape[3]
    _check(v.shape[0] == 3 and v.shape[1] == 2 and to_bus.shape[0] == n_br and y.shape[0] == 3
           and y.shape[1] == n_br and y.shape[2] == 8 and scale_from.shape[0] == n_br and scale_to.shape[0] == n_br
           and peak_scale.shape[0] == n_br and rows.shape[0] == n_br and value.shape[1] == 3
           and value.shape[2] == n_t and peak.shape[0] == value.shape[0] and peak.shape[1] == n_t
           and losses.shape[0] == n_t, "branch_phase_flows")
    if n_br == 0 or n_t == 0:
        return
    _check_index(from_bus, v.shape[2], "branch_phase_flows from_bus")
    _check_index(to_bus, v.shape[2], "branch_phase_flows to_bus")
    _check_index(rows, value.shape[0], "branch_phase_flows rows")
    with nogil:
        pf3_branch_flows(n_br, v.shape[2], &from_bus[0], &to_bus[0], &rows[0], &y[0, 0, 0], &scale_from[0],
                         &scale_to[0], &peak_scale[0], &v[0, 0, 0, 0], &value[0, 0, 0], _ld(value.strides[0]),
                         _ld(value.strides[1]), _ld(value.strides[2]), &peak[0, 0], _ld(peak.strides[0]),
                         _ld(peak.strides[1]), &losses[0], n_t)


def slack_phase_power(const double[:, :, :, ::1] v, const double[:, :, :, ::1] current, const int64_t[::1] ref_bus,
                      double[:, :, ::1] out):
    """``out`` (2, 3, T): P and Q per phase (pu) the slack buses take from the net: V_abc conj(I_abc)
    summed over the slack buses, from their V012 (``v`` (3, 2, n_bus, T)) and I012 (``current``
    (3, 2, n_ref, T))."""
    cdef Py_ssize_t n_ref = ref_bus.shape[0], n_t = v.shape[3], r, t, p
    cdef double ir[3]
    cdef double ii[3]
    cdef double ar = -0.5, ai = 0.86602540378443864676
    cdef double pr[3]
    cdef double pim[3]
    cdef double sr, si, er, ei
    _check(v.shape[0] == 3 and v.shape[1] == 2 and current.shape[0] == 3 and current.shape[1] == 2
           and current.shape[2] == n_ref and current.shape[3] == n_t and out.shape[0] == 2 and out.shape[1] == 3
           and out.shape[2] == n_t, "slack_phase_power")
    _check_index(ref_bus, v.shape[2], "slack_phase_power ref_bus")
    with nogil:
        for p in range(3):
            for t in range(n_t):
                out[0, p, t] = 0.0
                out[1, p, t] = 0.0
        for r in range(n_ref):
            for t in range(n_t):
                # phase voltages and currents of slack bus r
                sr = v[1, 0, ref_bus[r], t] + v[2, 0, ref_bus[r], t]
                si = v[1, 1, ref_bus[r], t] + v[2, 1, ref_bus[r], t]
                er = v[1, 0, ref_bus[r], t] - v[2, 0, ref_bus[r], t]
                ei = v[1, 1, ref_bus[r], t] - v[2, 1, ref_bus[r], t]
                pr[0] = v[0, 0, ref_bus[r], t] + sr
                pim[0] = v[0, 1, ref_bus[r], t] + si
                pr[1] = v[0, 0, ref_bus[r], t] + ar * sr + ai * ei
                pim[1] = v[0, 1, ref_bus[r], t] + ar * si - ai * er
                pr[2] = v[0, 0, ref_bus[r], t] + ar * sr - ai * ei
                pim[2] = v[0, 1, ref_bus[r], t] + ar * si + ai * er
                sr = current[1, 0, r, t] + current[2, 0, r, t]
                si = current[1, 1, r, t] + current[2, 1, r, t]
                er = current[1, 0, r, t] - current[2, 0, r, t]
                ei = current[1, 1, r, t] - current[2, 1, r, t]
                ir[0] = current[0, 0, r, t] + sr
                ii[0] = current[0, 1, r, t] + si
                ir[1] = current[0, 0, r, t] + ar * sr + ai * ei
                ii[1] = current[0, 1, r, t] + ar * si - ai * er
                ir[2] = current[0, 0, r, t] + ar * sr - ai * ei
                ii[2] = current[0, 1, r, t] + ar * si + ai * er
                for p in range(3):
                    out[0, p, t] += pr[p] * ir[p] + pim[p] * ii[p]
                    out[1, p, t] += pim[p] * ir[p] - pr[p] * ii[p]
