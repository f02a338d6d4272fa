# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of the scheduling core. ``core_ext/_sched_py.py`` is their specification;
the test suite checks both agree on random inputs. Arrays in (typed memoryviews), caller-allocated
arrays out, no Python objects inside the loops."""

from libc.math cimport fmin, fmax


def acceptance_kw(const double[::1] max_power_kw, const double[::1] efficiency,
                  const double[::1] energy_requested_kwh, const double[::1] energy_delivered_kwh,
                  const double[::1] battery_kwh, const double[::1] soc_arrival,
                  int taper, double transition_soc, const double[::1] dt_h, double[::1] out_kw):
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
            p_batt = fmin(p_batt, remaining / dt_h[i])
            out_kw[i] = p_batt / efficiency[i]


def advance_energy(const double[::1] p_kw, const double[::1] efficiency, double dt_h,
                   double[::1] energy_delivered_kwh):
    cdef Py_ssize_t i, n = p_kw.shape[0]
    with nogil:
        for i in range(n):
            energy_delivered_kwh[i] += p_kw[i] * efficiency[i] * dt_h


# ---------------------------------------------------------------------------------------------------
# Allocation kernels. Specification: core_ext/_alloc_py.py (same arithmetic, same order of operations).
# ---------------------------------------------------------------------------------------------------

from libc.math cimport floor, ceil, isfinite, isnan, INFINITY
from libc.stdlib cimport calloc, free, malloc, qsort
from libc.string cimport memset, memcpy

cdef double TOL = 1e-9
cdef double MIN_STEP_A = 1e-6
cdef long MAX_TOPUP_PASSES = 1000000
cdef enum:
    PAUSED = 0
    WAITING = 1
    RISING = 2
    FROZEN = 3


cdef void* _alloc(size_t count, size_t size) except NULL:
    cdef void* p = calloc(count if count > 0 else 1, size)
    if p == NULL:
        raise MemoryError()
    return p


cdef void* _alloc_scratch(size_t count, size_t size) except NULL:
    """``_alloc`` without zeroing, for scratch that is written before it is read."""
    cdef void* p = malloc(count * size if count > 0 else 1)
    if p == NULL:
        raise MemoryError()
    return p


cdef inline double _upper(double upper) noexcept nogil:
    return fmax(upper, 0.0)


cdef inline double _emin(double upper, double lower) noexcept nogil:
    return fmax(fmin(lower, fmax(upper, 0.0)), 0.0)


# ------------------------------------------- input checks (messages as in core_ext/_checks.py) ----

cdef Py_ssize_t _first_bad_index(const long long[::1] a, long long hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if a[i] < 0 or a[i] >= hi:
            return i
    return -1


cdef Py_ssize_t _first_nonfinite(const double[::1] a) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if not isfinite(a[i]):
            return i
    return -1


cdef Py_ssize_t _first_nan(const double[::1] a) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if isnan(a[i]):
            return i
    return -1


cdef void _check_finite_current(str kernel, str name, const double[::1] arr) except *:
    """A ValueError naming ``arr``'s first entry that is not a finite current (a loop in C; the names
    are not paired with the arrays in a tuple, which would turn each memoryview into an object)."""
    cdef Py_ssize_t j = _first_nonfinite(arr)
    if j >= 0:
        raise ValueError(f"{kernel}: {name}[{j}] = {arr[j]} is not a finite current")


cdef bint _rising_pointer(const long long[::1] ptr, Py_ssize_t total) noexcept nogil:
    cdef Py_ssize_t i, n = ptr.shape[0]
    if n == 0 or ptr[0] != 0 or ptr[n - 1] != total:
        return False
    for i in range(1, n):
        if ptr[i] < ptr[i - 1]:
            return False
    return True


cdef void _check_problem(str kernel, const long long[::1] order, const double[::1] upper_a,
                         const double[::1] lower_a, const long long[::1] indptr, const long long[::1] indices,
                         const double[::1] coef, const double[::1] limit, str out_name, const double[::1] out) except *:
    cdef Py_ssize_t n = upper_a.shape[0], m = limit.shape[0], nnz = indices.shape[0], j = -1, p, k
    cdef long long* stamp
    cdef char* seen
    if lower_a.shape[0] != n or order.shape[0] != n or out.shape[0] != n:
        for name, size in (("lower_a", lower_a.shape[0]), ("order", order.shape[0]), (out_name, out.shape[0])):
            if size != n:
                raise ValueError(f"{kernel}: {name} has {size} entries; expected {n} (one per session, like upper_a)")
    if indptr.shape[0] != n + 1:
        raise ValueError(f"{kernel}: indptr has {indptr.shape[0]} entries; expected n + 1 = {n + 1}")
    if not _rising_pointer(indptr, nnz) or coef.shape[0] != nnz:
        raise ValueError(f"{kernel}: indptr must rise from 0 to len(indices) = {nnz} (= len(coef) = "
                         f"{coef.shape[0]}); got indptr[0] = {indptr[0]}, indptr[-1] = {indptr[n]}")
    j = _first_bad_index(indices, m)
    if j >= 0:
        raise ValueError(f"{kernel}: indices[{j}] = {indices[j]} is not a row (limit has {m} rows: 0..{m - 1})")
    for p in range(nnz):
        if not (coef[p] > 0.0 and isfinite(coef[p])):
            raise ValueError(f"{kernel}: coef[{p}] = {coef[p]} must be a finite number > 0")
    stamp = <long long*>_alloc(m, sizeof(long long))
    try:
        with nogil:
            for p in range(m):
                stamp[p] = -1
            for k in range(n):
                for p in range(indptr[k], indptr[k + 1]):
                    if stamp[indices[p]] == k:
                        j = p
                        break
                    stamp[indices[p]] = k
                if j >= 0:
                    break
        if j >= 0:
            raise ValueError(f"{kernel}: column {k} lists row {indices[j]} twice (rows of a column must be distinct)")
    finally:
        free(stamp)
    _check_finite_current(kernel, "upper_a", upper_a)
    _check_finite_current(kernel, "lower_a", lower_a)
    j = _first_nan(limit)
    if j >= 0:
        raise ValueError(f"{kernel}: limit[{j}] is NaN (a limit must be a number; +inf means none)")
    j = _first_nan(out) if out_name == "io_a" else -1
    if j >= 0:
        raise ValueError(f"{kernel}: io_a[{j}] is NaN (a current must be a number)")
    j = _first_bad_index(order, n)
    if j >= 0:
        raise ValueError(f"{kernel}: order[{j}] = {order[j]} is not a session (valid: 0..{n - 1})")
    seen = <char*>_alloc(n, 1)
    try:
        with nogil:
            for p in range(n):
                if seen[order[p]]:
                    j = order[p]
                    break
                seen[order[p]] = 1
        if j >= 0:
            raise ValueError(f"{kernel}: order lists session {j} twice (it must be a permutation of 0..{n - 1})")
    finally:
        free(seen)


cdef void _check_grid(str kernel, Py_ssize_t n, const double[::1] step_a, const long long[::1] allowed_indptr,
                      const double[::1] allowed_a) except *:
    cdef Py_ssize_t k, p
    if step_a.shape[0] != n:
        raise ValueError(f"{kernel}: step_a has {step_a.shape[0]} entries; expected {n} (one per session, like upper_a)")
    if allowed_indptr.shape[0] != n + 1:
        raise ValueError(f"{kernel}: allowed_indptr has {allowed_indptr.shape[0]} entries; expected n + 1 = {n + 1}")
    for k in range(n):
        if not isfinite(step_a[k]) or (step_a[k] != 0.0 and not step_a[k] >= MIN_STEP_A):
            raise ValueError(f"{kernel}: step_a[{k}] = {step_a[k]} must be 0 (continuous) or a finite step >= "
                             f"{MIN_STEP_A} A")
    if not _rising_pointer(allowed_indptr, allowed_a.shape[0]):
        raise ValueError(f"{kernel}: allowed_indptr must rise from 0 to len(allowed_a) = {allowed_a.shape[0]}")
    for p in range(allowed_a.shape[0]):
        if not isfinite(allowed_a[p]) or allowed_a[p] < 0.0:
            raise ValueError(f"{kernel}: allowed_a[{p}] = {allowed_a[p]} must be a finite current >= 0")
    for k in range(n):
        for p in range(allowed_indptr[k] + 1, allowed_indptr[k + 1]):
            if allowed_a[p] < allowed_a[p - 1]:
                grid = list(allowed_a[allowed_indptr[k]:allowed_indptr[k + 1]])
                raise ValueError(f"{kernel}: the allowed currents of session {k} are not ascending: {grid}")


# ------------------------------------------------------------------------------ priority ----------

def priority_allocate(const long long[::1] order, const double[::1] upper_a, const double[::1] lower_a,
                      const long long[::1] indptr, const long long[::1] indices, const double[::1] coef,
                      const double[::1] limit, double[::1] out_a):
    _check_problem("priority_allocate", order, upper_a, lower_a, indptr, indices, coef, limit, "out_a", out_a)
    cdef Py_ssize_t i, k, p, n = upper_a.shape[0]
    cdef double cap, slack, emin
    cdef double* used = <double*>_alloc(limit.shape[0], sizeof(double))
    try:
        with nogil:
            for k in range(n):
                out_a[k] = 0.0
            for i in range(n):
                k = order[i]
                cap = _upper(upper_a[k])
                emin = _emin(upper_a[k], lower_a[k])
                for p in range(indptr[k], indptr[k + 1]):
                    slack = (limit[indices[p]] - used[indices[p]]) / coef[p]
                    if slack < cap:
                        cap = slack
                if cap < emin - TOL:
                    continue
                out_a[k] = fmax(cap, 0.0)
                for p in range(indptr[k], indptr[k + 1]):
                    used[indices[p]] += coef[p] * out_a[k]
    finally:
        free(used)


cdef void _served_by_minimums(Py_ssize_t n, const long long* order, const double* emin, const long long* indptr,
                              const long long* indices, const double* coef, const double* limit, double* used,
                              signed char* state) noexcept nogil:
    """state[k] = WAITING if k's minimum fits after the minimums of those before it in order, else PAUSED."""
    cdef Py_ssize_t i, k, p
    cdef bint fits
    for i in range(n):
        k = order[i]
        fits = True
        for p in range(indptr[k], indptr[k + 1]):
            if (limit[indices[p]] - used[indices[p]]) / coef[p] < emin[k] - TOL:
                fits = False
                break
        state[k] = WAITING if fits else PAUSED
        if fits:
            for p in range(indptr[k], indptr[k + 1]):
                used[indices[p]] += coef[p] * emin[k]


# ------------------------------------------------------------------------------ waterfill ---------

cdef struct KeyIndex:
    double key
    long long index


cdef void _sort_by_key(KeyIndex* a, KeyIndex* tmp, Py_ssize_t n) noexcept nogil:
    """Stable bottom-up merge sort by key: entries given in index order keep ties by index, as numpy's
    stable argsort does in the twin."""
    cdef Py_ssize_t width = 1, lo, mid, hi, i, j, k
    cdef KeyIndex* src = a
    cdef KeyIndex* dst = tmp
    cdef KeyIndex* swap
    while width < n:
        lo = 0
        while lo < n:
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if src[j].key < src[i].key:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
            lo = hi
        swap, src, dst = src, dst, src
        width *= 2
    if src != a:
        memcpy(a, src, n * sizeof(KeyIndex))


cdef int _cmp_ll(const void* a, const void* b) noexcept nogil:
    cdef long long x = (<const long long*>a)[0], y = (<const long long*>b)[0]
    return -1 if x < y else (1 if x > y else 0)


cdef struct Fill:
    # the problem (borrowed) and the effective bounds
    Py_ssize_t n, m
    const long long* indptr
    const long long* indices
    const double* coef
    const double* limit
    double* up
    double* emin
    # the state at level t (see _alloc_py._Filling)
    double t
    signed char* state
    double* value
    double* fixed
    double* rate
    double* level
    long long* n_rising
    char* saturated
    # rows -> sessions (transpose of the CSC columns)
    long long* row_ptr
    long long* row_ses
    # sessions sorted by minimum / by upper, and the walkers over them
    long long* by_min
    long long* by_up
    Py_ssize_t n_open, i_min, i_up
    # min-heap of (saturation level, row); an entry is stale unless the row is live and the key equal
    double* heap_key
    long long* heap_row
    Py_ssize_t heap_n
    # the sessions frozen by saturated rows in one event; rows changed since the last flush
    long long* batch
    char* mark
    long long* dirty
    char* is_dirty
    Py_ssize_t n_dirty
    KeyIndex* keys  # sort scratch, 2n


cdef void _heap_push(Fill* f, double key, long long row) noexcept nogil:
    cdef Py_ssize_t i = f.heap_n, parent
    f.heap_n += 1
    while i > 0:
        parent = (i - 1) // 2
        if f.heap_key[parent] <= key:
            break
        f.heap_key[i] = f.heap_key[parent]
        f.heap_row[i] = f.heap_row[parent]
        i = parent
    f.heap_key[i] = key
    f.heap_row[i] = row


cdef void _heap_pop(Fill* f) noexcept nogil:
    cdef Py_ssize_t i = 0, child
    cdef double key
    cdef long long row
    f.heap_n -= 1
    if f.heap_n == 0:
        return
    key, row = f.heap_key[f.heap_n], f.heap_row[f.heap_n]
    while True:
        child = 2 * i + 1
        if child >= f.heap_n:
            break
        if child + 1 < f.heap_n and f.heap_key[child + 1] < f.heap_key[child]:
            child += 1
        if f.heap_key[child] >= key:
            break
        f.heap_key[i] = f.heap_key[child]
        f.heap_row[i] = f.heap_row[child]
        i = child
    f.heap_key[i] = key
    f.heap_row[i] = row


cdef inline bint _heap_top_valid(Fill* f) noexcept nogil:
    cdef long long r = f.heap_row[0]
    return not f.saturated[r] and f.n_rising[r] > 0 and f.heap_key[0] == f.level[r]


cdef inline void _row_changed(Fill* f, long long r) noexcept nogil:
    if not f.is_dirty[r]:
        f.is_dirty[r] = 1
        f.dirty[f.n_dirty] = r
        f.n_dirty += 1


cdef void _flush(Fill* f) noexcept nogil:
    """New saturation levels of the rows changed since the last flush (one heap push per row, not per
    session: a site row touched by every session would otherwise fill the heap with stale entries)."""
    cdef Py_ssize_t i
    cdef long long r
    for i in range(f.n_dirty):
        r = f.dirty[i]
        f.is_dirty[r] = 0
        if f.n_rising[r] > 0 and not f.saturated[r]:
            f.level[r] = (f.limit[r] - f.fixed[r]) / f.rate[r]
            _heap_push(f, f.level[r], r)
        else:
            f.level[r] = INFINITY
    f.n_dirty = 0


cdef void _start(Fill* f, long long s) noexcept nogil:
    cdef Py_ssize_t p
    cdef long long r
    for p in range(f.indptr[s], f.indptr[s + 1]):
        r = f.indices[p]
        f.fixed[r] -= f.coef[p] * f.emin[s]
        f.rate[r] += f.coef[p]
        f.n_rising[r] += 1
        _row_changed(f, r)
    f.state[s] = RISING


cdef void _freeze(Fill* f, long long s, double v) noexcept nogil:
    cdef Py_ssize_t p
    cdef long long r
    if f.state[s] == RISING:
        for p in range(f.indptr[s], f.indptr[s + 1]):
            r = f.indices[p]
            f.rate[r] -= f.coef[p]
            f.n_rising[r] -= 1
            if f.n_rising[r] == 0:
                f.rate[r] = 0.0
            f.fixed[r] += f.coef[p] * v
            _row_changed(f, r)
    f.value[s] = v
    f.state[s] = FROZEN


cdef double _next_level(Fill* f) noexcept nogil:
    cdef double level = INFINITY
    while f.i_min < f.n_open and f.state[f.by_min[f.i_min]] != WAITING:
        f.i_min += 1
    while f.i_up < f.n_open and f.state[f.by_up[f.i_up]] == FROZEN:
        f.i_up += 1
    if f.i_min < f.n_open:
        level = f.emin[f.by_min[f.i_min]]
    if f.i_up < f.n_open:
        level = fmin(level, f.up[f.by_up[f.i_up]])
    while f.heap_n > 0 and not _heap_top_valid(f):
        _heap_pop(f)
    if f.heap_n > 0:
        level = fmin(level, f.heap_key[0])
    return level


cdef void _advance(Fill* f) noexcept nogil:
    """Every event within TOL of the level: starts, then uppers, then saturated rows (as the twin)."""
    cdef double t = f.t
    cdef long long s, r
    cdef Py_ssize_t q, i, nb = 0
    while f.i_min < f.n_open and (f.state[f.by_min[f.i_min]] != WAITING or f.emin[f.by_min[f.i_min]] <= t + TOL):
        s = f.by_min[f.i_min]
        if f.state[s] == WAITING:
            _start(f, s)
        f.i_min += 1
    while f.i_up < f.n_open and (f.state[f.by_up[f.i_up]] == FROZEN or f.up[f.by_up[f.i_up]] <= t + TOL):
        s = f.by_up[f.i_up]
        if f.state[s] == RISING:
            _freeze(f, s, f.up[s])
        f.i_up += 1
    _flush(f)
    while f.heap_n > 0 and f.heap_key[0] <= t + TOL:
        r = f.heap_row[0]
        if _heap_top_valid(f):
            f.saturated[r] = 1
            for q in range(f.row_ptr[r], f.row_ptr[r + 1]):
                s = f.row_ses[q]
                if (f.state[s] == WAITING or f.state[s] == RISING) and not f.mark[s]:
                    f.mark[s] = 1
                    f.batch[nb] = s
                    nb += 1
        _heap_pop(f)
    qsort(f.batch, nb, sizeof(long long), _cmp_ll)
    for i in range(nb):
        s = f.batch[i]
        _freeze(f, s, fmin(fmax(t, f.emin[s]), f.up[s]))
    _flush(f)


cdef void _fill_free(Fill* f) noexcept:
    free(f.up); free(f.emin); free(f.state); free(f.value); free(f.fixed); free(f.rate); free(f.level)
    free(f.n_rising); free(f.saturated); free(f.row_ptr); free(f.row_ses); free(f.by_min); free(f.by_up)
    free(f.heap_key); free(f.heap_row); free(f.batch); free(f.mark); free(f.dirty); free(f.is_dirty)
    free(f.keys)


cdef void _fill_alloc(Fill* f, Py_ssize_t n, Py_ssize_t m, Py_ssize_t nnz) except *:
    f.n, f.m = n, m
    f.up, f.emin = <double*>_alloc(n, sizeof(double)), <double*>_alloc(n, sizeof(double))
    f.state, f.value = <signed char*>_alloc(n, 1), <double*>_alloc(n, sizeof(double))
    f.fixed, f.rate = <double*>_alloc(m, sizeof(double)), <double*>_alloc(m, sizeof(double))
    f.level, f.n_rising = <double*>_alloc(m, sizeof(double)), <long long*>_alloc(m, sizeof(long long))
    f.saturated = <char*>_alloc(m, 1)
    f.row_ptr, f.row_ses = <long long*>_alloc(m + 1, sizeof(long long)), <long long*>_alloc(nnz, sizeof(long long))
    f.by_min, f.by_up = <long long*>_alloc(n, sizeof(long long)), <long long*>_alloc(n, sizeof(long long))
    f.heap_key = <double*>_alloc(2 * nnz + 1, sizeof(double))
    f.heap_row = <long long*>_alloc(2 * nnz + 1, sizeof(long long))
    f.batch, f.mark = <long long*>_alloc(n, sizeof(long long)), <char*>_alloc(n, 1)
    f.dirty, f.is_dirty = <long long*>_alloc(m, sizeof(long long)), <char*>_alloc(m, 1)
    f.keys = <KeyIndex*>_alloc(2 * n, sizeof(KeyIndex))


cdef void _fill_init(Fill* f, const long long* order, const double* upper_a, const double* lower_a) noexcept nogil:
    """Effective bounds, the served set, the rows' fixed loads, the transpose and the sorted walkers."""
    cdef Py_ssize_t k, p, q
    cdef long long r
    for k in range(f.n):
        f.up[k] = _upper(upper_a[k])
        f.emin[k] = _emin(upper_a[k], lower_a[k])
    _served_by_minimums(f.n, order, f.emin, f.indptr, f.indices, f.coef, f.limit, f.fixed, f.state)
    for r in range(f.m):
        f.fixed[r] = 0.0
        f.level[r] = INFINITY
    for k in range(f.n):
        f.value[k] = f.emin[k] if f.state[k] == WAITING else 0.0
        if f.state[k] == WAITING and f.emin[k] >= f.up[k]:
            f.state[k] = FROZEN
        if f.state[k] != PAUSED:
            for p in range(f.indptr[k], f.indptr[k + 1]):
                f.fixed[f.indices[p]] += f.coef[p] * f.emin[k]
        for p in range(f.indptr[k], f.indptr[k + 1]):
            f.row_ptr[f.indices[p] + 1] += 1
    for r in range(f.m):
        f.row_ptr[r + 1] += f.row_ptr[r]
    for k in range(f.n):  # fill the transpose; n_rising (all 0 now) serves as the cursor per row
        for p in range(f.indptr[k], f.indptr[k + 1]):
            r = f.indices[p]
            f.row_ses[f.row_ptr[r] + f.n_rising[r]] = k
            f.n_rising[r] += 1
    for r in range(f.m):
        f.n_rising[r] = 0
    _sorted_waiting(f, f.emin, f.by_min)
    _sorted_waiting(f, f.up, f.by_up)


cdef void _sorted_waiting(Fill* f, const double* key, long long* out) noexcept nogil:
    """The waiting sessions sorted by ``key``, ties by index (numpy's stable argsort)."""
    cdef Py_ssize_t k, i = 0
    for k in range(f.n):
        if f.state[k] == WAITING:
            f.keys[i].key, f.keys[i].index = key[k], k
            i += 1
    _sort_by_key(f.keys, f.keys + f.n, i)
    for k in range(i):
        out[k] = f.keys[k].index
    f.n_open = i


def waterfill(const long long[::1] order, const double[::1] upper_a, const double[::1] lower_a,
              const long long[::1] indptr, const long long[::1] indices, const double[::1] coef,
              const double[::1] limit, double[::1] out_a):
    _check_problem("waterfill", order, upper_a, lower_a, indptr, indices, coef, limit, "out_a", out_a)
    cdef Py_ssize_t k, it, n = upper_a.shape[0], m = limit.shape[0], nnz = indices.shape[0]
    cdef Fill f
    cdef double level
    memset(&f, 0, sizeof(Fill))
    try:
        _fill_alloc(&f, n, m, nnz)
        f.indptr, f.indices = &indptr[0], (&indices[0] if nnz else NULL)
        f.coef, f.limit = (&coef[0] if nnz else NULL), (&limit[0] if m else NULL)
        with nogil:
            _fill_init(&f, (&order[0] if n else NULL), (&upper_a[0] if n else NULL), (&lower_a[0] if n else NULL))
            for it in range(2 * n + 2):
                level = _next_level(&f)
                if level == INFINITY:
                    break
                f.t = fmax(f.t, level)
                _advance(&f)
            for k in range(n):
                if f.state[k] == WAITING or f.state[k] == RISING:  # only after the event bound: a safety net
                    out_a[k] = fmin(fmax(f.t, f.emin[k]), f.up[k])
                else:
                    out_a[k] = f.value[k]
    finally:
        _fill_free(&f)


# ------------------------------------------------------------------------------ quantize ----------

cdef inline Py_ssize_t _bisect_right(const double[::1] a, Py_ssize_t lo, Py_ssize_t hi, double x) noexcept nogil:
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline Py_ssize_t _bisect_left(const double[::1] a, Py_ssize_t lo, Py_ssize_t hi, double x) noexcept nogil:
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline double _round_down(double x, double step, const double[::1] grid, Py_ssize_t lo,
                               Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t j
    if hi > lo:
        j = _bisect_right(grid, lo, hi, x + TOL)
        return grid[j - 1] if j > lo else 0.0
    if step > 0.0:
        return floor((x + TOL) / step) * step
    return x


cdef inline double _next_up(double v, double emin, double step, const double[::1] grid, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t j
    cdef double target
    if hi > lo:
        j = max(_bisect_right(grid, lo, hi, v + TOL), _bisect_left(grid, lo, hi, emin - TOL))
        return grid[j] if j < hi else INFINITY
    target = (floor((v + TOL) / step) + 1.0) * step
    if target < emin - TOL:
        target = ceil((emin - TOL) / step) * step
    return target


def quantize(const long long[::1] order, const double[::1] upper_a, const double[::1] lower_a,
             const double[::1] step_a, const long long[::1] allowed_indptr, const double[::1] allowed_a,
             const long long[::1] indptr, const long long[::1] indices, const double[::1] coef,
             const double[::1] limit, double[::1] io_a):
    _check_problem("quantize", order, upper_a, lower_a, indptr, indices, coef, limit, "io_a", io_a)
    _check_grid("quantize", upper_a.shape[0], step_a, allowed_indptr, allowed_a)
    cdef Py_ssize_t i, k, p, n = upper_a.shape[0], n_active = 0, n_risen
    cdef long it
    cdef double value, emin, target, delta
    cdef bint fits
    cdef double* used = <double*>_alloc(limit.shape[0], sizeof(double))
    cdef long long* active = <long long*>_alloc(n, sizeof(long long))
    cdef long long* risen = <long long*>_alloc(n, sizeof(long long))
    try:
        with nogil:
            for k in range(n):
                value = _round_down(fmin(fmax(io_a[k], 0.0), _upper(upper_a[k])), step_a[k], allowed_a,
                                    allowed_indptr[k], allowed_indptr[k + 1])
                io_a[k] = 0.0 if value < _emin(upper_a[k], lower_a[k]) - TOL else value
                for p in range(indptr[k], indptr[k + 1]):
                    used[indices[p]] += coef[p] * io_a[k]
            for i in range(n):
                k = order[i]
                if step_a[k] > 0.0 or allowed_indptr[k + 1] > allowed_indptr[k]:
                    active[n_active] = k
                    n_active += 1
            for it in range(MAX_TOPUP_PASSES):
                n_risen = 0
                for i in range(n_active):
                    k = active[i]
                    emin = _emin(upper_a[k], lower_a[k])
                    target = _next_up(io_a[k], emin, step_a[k], allowed_a, allowed_indptr[k], allowed_indptr[k + 1])
                    delta = target - io_a[k]
                    if target > _upper(upper_a[k]) + TOL:
                        continue
                    fits = True
                    for p in range(indptr[k], indptr[k + 1]):
                        if (limit[indices[p]] - used[indices[p]]) / coef[p] < delta - TOL:
                            fits = False
                            break
                    if not fits:
                        continue
                    for p in range(indptr[k], indptr[k + 1]):
                        used[indices[p]] += coef[p] * delta
                    io_a[k] = target
                    risen[n_risen] = k
                    n_risen += 1
                if n_risen == 0:
                    break
                active, risen, n_active = risen, active, n_risen
    finally:
        free(used)
        free(active)
        free(risen)


# ------------------------------------------------------------------------------ setpoints ---------
# Specification: core_ext/_setpoints_py.py (same arithmetic, same order of operations).

cdef double STEP_TOL = 1e-9


cdef void _check_chargers(str kernel, const double[::1] min_a, const double[::1] max_a) except *:
    cdef Py_ssize_t j, m = min_a.shape[0]
    if max_a.shape[0] != m:
        raise ValueError(f"{kernel}: max_a has {max_a.shape[0]} entries; expected {m} (one per charger, like min_a)")
    _check_finite_current(kernel, "min_a", min_a)
    _check_finite_current(kernel, "max_a", max_a)


def pilot_currents(const double[::1] draw_a, const double[::1] upper_a, const long long[::1] charger_index,
                   const double[::1] min_a, const double[::1] max_a, const double[::1] step_a,
                   const long long[::1] allowed_indptr, const double[::1] allowed_a, double[::1] current_a):
    cdef str kernel = "pilot_currents"
    cdef Py_ssize_t k, p, j, n = draw_a.shape[0], m = min_a.shape[0]
    cdef long long c
    cdef double pilot, wanted, offer
    if upper_a.shape[0] != n or charger_index.shape[0] != n:
        raise ValueError(f"{kernel}: upper_a and charger_index have {upper_a.shape[0]} and {charger_index.shape[0]} "
                         f"entries; expected {n} (one per session, like draw_a)")
    if max_a.shape[0] != m:
        raise ValueError(f"{kernel}: max_a has {max_a.shape[0]} entries; expected {m} (one per charger, like min_a)")
    if step_a.shape[0] != m:
        raise ValueError(f"{kernel}: step_a has {step_a.shape[0]} entries; expected {m} (one per charger, like min_a)")
    if allowed_indptr.shape[0] != m + 1:
        raise ValueError(f"{kernel}: allowed_indptr has {allowed_indptr.shape[0]} entries; expected n_chargers + 1 = "
                         f"{m + 1}")
    _check_finite_current(kernel, "min_a", min_a)
    _check_finite_current(kernel, "max_a", max_a)
    _check_finite_current(kernel, "step_a", step_a)
    _check_finite_current(kernel, "allowed_a", allowed_a)
    if not _rising_pointer(allowed_indptr, allowed_a.shape[0]):
        raise ValueError(f"{kernel}: allowed_indptr must rise from 0 to len(allowed_a) = {allowed_a.shape[0]}")
    if current_a.shape[0] != m:
        raise ValueError(f"{kernel}: current_a has {current_a.shape[0]} entries; expected {m} (one per charger, "
                         "like min_a)")
    j = _first_bad_index(charger_index, m)
    if j >= 0:
        raise ValueError(f"{kernel}: charger_index[{j}] = {charger_index[j]} is not a charger (valid: 0..{m - 1})")
    with nogil:
        for c in range(m):
            current_a[c] = 0.0
        for k in range(n):
            c = charger_index[k]
            pilot = draw_a[k] if draw_a[k] > TOL else 0.0
            if pilot > 0.0 and (pilot < min_a[c] - TOL or pilot >= upper_a[k] - TOL):
                wanted = pilot if pilot >= min_a[c] else min_a[c]
                if allowed_indptr[c + 1] > allowed_indptr[c]:
                    offer = INFINITY
                    for p in range(allowed_indptr[c], allowed_indptr[c + 1]):
                        if allowed_a[p] >= wanted - TOL:
                            offer = allowed_a[p]
                            break
                elif step_a[c] > 0.0:
                    offer = ceil(wanted / step_a[c] - STEP_TOL) * step_a[c]
                else:
                    offer = wanted
                pilot = offer if offer <= max_a[c] else max_a[c]
            current_a[c] = pilot


def check_currents(const double[::1] current_a, const double[::1] min_a, const double[::1] max_a,
                   double[::1] out_a):
    cdef str kernel = "check_currents"
    cdef Py_ssize_t i, m = min_a.shape[0], bad = -1
    cdef double c
    _check_chargers(kernel, min_a, max_a)
    if current_a.shape[0] != m or out_a.shape[0] != m:
        raise ValueError(f"{kernel}: current_a and out_a have {current_a.shape[0]} and {out_a.shape[0]} entries; "
                         f"expected {m} (one per charger, like min_a)")
    with nogil:
        for i in range(m):
            c = current_a[i]
            if not (c >= -TOL and c <= max_a[i] + TOL and (c <= TOL or c >= min_a[i] - TOL)):
                bad = i
                break
            out_a[i] = max_a[i] if c > max_a[i] else (c if c > 0.0 else 0.0)
    return bad


# ------------------------------------------------------------------------------ deadline threshold -
# Specification: core_ext/_threshold_py.py (same arithmetic, sums in index order). Each session's
# hours per slot are computed once per call, not per test, and kept only where not 0 (such a slot
# adds exactly nothing to either side: capacities are >= 0), as CSR rows in departure order. A test
# then walks those entries with one running capacity per slot instead of the twin's sessions x slots
# matrices, and stops at the first prefix that fails.

cdef double THRESHOLD_REL_TOL = 1e-9
cdef double THRESHOLD_ABS_TOL_KWH = 1e-9
cdef int MAX_BISECTIONS = 200


cdef struct Deadlines:
    Py_ssize_t n, n_slots
    const double* base_kw
    long long* ptr  # prefix j (departure order) owns entries ptr[j]..ptr[j+1]-1
    int* slot  # per entry: the slot
    double* hours  # per entry: hours of the slot before the j-th departure (> 0)
    double* max_kw  # per prefix j: its j-th session's max_kw
    double* prefix_need_kwh  # per prefix
    double* cap_kwh  # per slot: the prefix's running capacity, sum of max_kw * hours (scratch)
    double* room_kw  # per slot (scratch)


cdef inline double _max0(double x) noexcept nogil:
    return x if x > 0.0 else 0.0


cdef inline double _min(double a, double b) noexcept nogil:
    """``np.minimum`` for numbers that are not NaN (inlined; libm's fmin may be a call)."""
    return a if a < b else b


cdef inline double _max(double a, double b) noexcept nogil:
    return a if a > b else b


cdef bint _deadlines_met(Deadlines* d, double threshold_kw) noexcept nogil:
    cdef Py_ssize_t j, k, p
    cdef double h, offered
    for k in range(d.n_slots):
        d.room_kw[k] = _max0(threshold_kw - d.base_kw[k])
        d.cap_kwh[k] = 0.0
    for j in range(d.n):
        offered = 0.0
        for p in range(d.ptr[j], d.ptr[j + 1]):
            k, h = d.slot[p], d.hours[p]
            d.cap_kwh[k] += d.max_kw[j] * h
            offered += _min(d.room_kw[k] * h, d.cap_kwh[k])
        if not offered >= d.prefix_need_kwh[j] * (1.0 - THRESHOLD_REL_TOL) - THRESHOLD_ABS_TOL_KWH:
            return False
    return True


cdef void _check_finite(str name, const double[::1] a) except *:
    cdef Py_ssize_t j = _first_nonfinite(a)
    if j >= 0:
        raise ValueError(f"deadline_threshold: {name}[{j}] = {a[j]} is not a finite number")


def deadline_threshold(const double[::1] start_s, const double[::1] end_s, const double[::1] base_kw, double time_s,
                       const double[::1] departure_s, const double[::1] need_kwh, const double[::1] max_kw,
                       double target_kw, double upper_kw, double tol_kw):
    cdef Py_ssize_t j, k, n = departure_s.shape[0], n_slots = start_s.shape[0], nnz = 0
    cdef long long s
    cdef double h, need_cap, prefix_need = 0.0, lo, hi, mid
    cdef int it
    cdef Deadlines d
    cdef KeyIndex* keys
    cdef double* from_s  # per slot: where it starts counting, max(start, now)
    for name, size, like, expected in (("end_s", end_s.shape[0], "start_s", n_slots),
                                       ("base_kw", base_kw.shape[0], "start_s", n_slots),
                                       ("need_kwh", need_kwh.shape[0], "departure_s", n),
                                       ("max_kw", max_kw.shape[0], "departure_s", n)):
        if size != expected:
            raise ValueError(f"deadline_threshold: {name} has {size} entries; expected {expected} (like {like})")
    for name, arr in (("start_s", start_s), ("end_s", end_s), ("base_kw", base_kw), ("departure_s", departure_s),
                      ("need_kwh", need_kwh), ("max_kw", max_kw)):
        _check_finite(name, arr)
    for j in range(n):
        if max_kw[j] < 0.0:
            raise ValueError(f"deadline_threshold: max_kw[{j}] = {max_kw[j]} must be >= 0")
    for name, value in (("time_s", time_s), ("target_kw", target_kw), ("upper_kw", upper_kw)):
        if not isfinite(value):
            raise ValueError(f"deadline_threshold: {name} = {value} is not a finite number")
    if not (tol_kw > 0.0 and isfinite(tol_kw)):
        raise ValueError(f"deadline_threshold: tol_kw = {tol_kw} must be a finite number > 0")
    if n_slots >= 2**31:
        raise ValueError(f"deadline_threshold: {n_slots} slots; at most 2**31 - 1")
    memset(&d, 0, sizeof(Deadlines))
    d.n, d.n_slots = n, n_slots
    d.base_kw = &base_kw[0] if n_slots else NULL
    keys = <KeyIndex*>_alloc(2 * n, sizeof(KeyIndex))
    from_s = <double*>_alloc(n_slots, sizeof(double))
    try:
        d.ptr = <long long*>_alloc(n + 1, sizeof(long long))
        d.slot = <int*>_alloc_scratch(n * n_slots, sizeof(int))
        d.hours = <double*>_alloc_scratch(n * n_slots, sizeof(double))
        d.max_kw = <double*>_alloc(n, sizeof(double))
        d.prefix_need_kwh = <double*>_alloc(n, sizeof(double))
        d.cap_kwh = <double*>_alloc(n_slots, sizeof(double))
        d.room_kw = <double*>_alloc(n_slots, sizeof(double))
        with nogil:
            for j in range(n):
                keys[j].key, keys[j].index = departure_s[j], j
            _sort_by_key(keys, keys + n, n)
            for k in range(n_slots):
                from_s[k] = _max(start_s[k], time_s)
            for j in range(n):
                s = keys[j].index
                d.max_kw[j] = max_kw[s]
                need_cap = 0.0
                for k in range(n_slots):
                    h = _max0(_min(end_s[k], departure_s[s]) - from_s[k]) / 3600.0
                    need_cap += max_kw[s] * h
                    if h > 0.0:
                        d.slot[nnz], d.hours[nnz] = <int>k, h
                        nnz += 1
                d.ptr[j + 1] = nnz
                prefix_need += _min(need_kwh[s], need_cap)
                d.prefix_need_kwh[j] = prefix_need
            if _deadlines_met(&d, target_kw):
                hi = target_kw
            else:
                lo, hi = target_kw, upper_kw
                for it in range(MAX_BISECTIONS):
                    if not hi - lo > tol_kw:
                        break
                    mid = 0.5 * (lo + hi)
                    if _deadlines_met(&d, mid):
                        hi = mid
                    else:
                        lo = mid
    finally:
        free(keys)
        free(from_s)
        free(d.ptr)
        free(d.slot)
        free(d.hours)
        free(d.max_kw)
        free(d.prefix_need_kwh)
        free(d.cap_kwh)
        free(d.room_kw)
    return hi


# ------------------------------------------------------------------------------------ engine steps -
# Specification: core_ext/_engine_py.py (same arithmetic, same order of operations). The engine calls
# each once per allocation or event on the plugged-in sessions' arrays (a few dozen entries): one call
# instead of a dozen numpy calls, each of which costs more than the loop.

cdef inline double _np_min(double a, double b) noexcept nogil:
    """``np.minimum``: the smaller, NaN if either is NaN."""
    return a if (a < b or isnan(a)) else b


cdef inline double _np_max(double a, double b) noexcept nogil:
    """``np.maximum``: the larger, NaN if either is NaN."""
    return a if (a > b or isnan(a)) else b


# Their arrays are taken by pointer after a check of type, length and layout (``_f64`` / ``_i64``):
# a typed memoryview costs about 0.17 us per argument to acquire, more than these loops take.

cimport numpy as cnp
cnp.import_array()


cdef cnp.ndarray _array(str kernel, str name, object a, Py_ssize_t n, bint out, bint integer):
    """``a`` as a 1-D, C-contiguous, aligned float64 (int64 if ``integer``) array of ``n`` entries
    (writable if ``out``); otherwise a ValueError naming the kernel and the array."""
    cdef cnp.ndarray arr
    cdef bint dtype_ok
    if not isinstance(a, cnp.ndarray):
        raise ValueError(f"{kernel}: {name} is a {type(a).__name__}; expected a numpy array")
    arr = <cnp.ndarray>a
    if integer:
        dtype_ok = cnp.PyArray_ISINTEGER(arr) and cnp.PyArray_ISSIGNED(arr) and cnp.PyArray_ITEMSIZE(arr) == 8
    else:
        dtype_ok = cnp.PyArray_TYPE(arr) == cnp.NPY_DOUBLE
    if not dtype_ok:
        raise ValueError(f"{kernel}: {name} has dtype {(<object>arr).dtype}; expected {'int64' if integer else 'float64'}")
    if cnp.PyArray_NDIM(arr) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISALIGNED(arr):
        raise ValueError(f"{kernel}: {name} must be a 1-D contiguous array (shape {(<object>arr).shape})")
    if n >= 0 and cnp.PyArray_DIM(arr, 0) != n:
        raise ValueError(f"{kernel}: {name} has {cnp.PyArray_DIM(arr, 0)} entries; expected {n} (one per session)")
    if out and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{kernel}: {name} is read-only; it is an output")
    return arr


cdef inline double* _f64(str kernel, str name, object a, Py_ssize_t n, bint out=False) except NULL:
    return <double*>cnp.PyArray_DATA(_array(kernel, name, a, n, out, False))


cdef inline long long* _i64(str kernel, str name, object a, Py_ssize_t n) except NULL:
    return <long long*>cnp.PyArray_DATA(_array(kernel, name, a, n, False, True))


cdef inline Py_ssize_t _length(str kernel, str name, object a) except -1:
    """The length of ``a``, checked as an array of floats (the length of the others)."""
    return cnp.PyArray_DIM(_array(kernel, name, a, -1, False, False), 0)


cdef Py_ssize_t _first_outside(const long long* index, Py_ssize_t n, long long size) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if index[i] < 0 or index[i] >= size:
            return i
    return -1


cdef void _check_index(str kernel, str name, const long long* index, Py_ssize_t n, Py_ssize_t size,
                       str what) except *:
    cdef Py_ssize_t j = _first_outside(index, n, size)
    if j >= 0:
        raise ValueError(f"{kernel}: {name}[{j}] = {index[j]} is not {what} (valid: 0..{size - 1})")


def session_limits(object max_power_kw, object efficiency, object energy_requested_kwh, object energy_delivered_kwh,
                   object battery_kwh, object soc_arrival, object departure_s, object w_per_a, object charger_max_a,
                   int taper, double transition_soc, double t_s, double next_tick_s, object out_kw,
                   object out_max_a):
    cdef str k = "session_limits"
    cdef Py_ssize_t i, n = _length(k, "max_power_kw", max_power_kw)
    cdef const double* limit_kw = _f64(k, "max_power_kw", max_power_kw, n)
    cdef const double* eff = _f64(k, "efficiency", efficiency, n)
    cdef const double* requested = _f64(k, "energy_requested_kwh", energy_requested_kwh, n)
    cdef const double* delivered = _f64(k, "energy_delivered_kwh", energy_delivered_kwh, n)
    cdef const double* battery = _f64(k, "battery_kwh", battery_kwh, n)
    cdef const double* soc0 = _f64(k, "soc_arrival", soc_arrival, n)
    cdef const double* departure = _f64(k, "departure_s", departure_s, n)
    cdef const double* w_a = _f64(k, "w_per_a", w_per_a, n)
    cdef const double* max_a = _f64(k, "charger_max_a", charger_max_a, n)
    cdef double* accept = _f64(k, "out_kw", out_kw, n, True)
    cdef double* current = _f64(k, "out_max_a", out_max_a, n, True)
    cdef double remaining, p_batt, soc, frac, dt_h
    cdef double span = 1.0 - transition_soc
    with nogil:
        for i in range(n):
            dt_h = _np_max(_np_min(departure[i], next_tick_s) - t_s, 1e-9) / 3600.0
            remaining = fmax(requested[i] - delivered[i], 0.0)
            p_batt = limit_kw[i] * eff[i]
            if taper:
                soc = soc0[i] + delivered[i] / battery[i]
                if span > 0.0:
                    frac = fmin(fmax((1.0 - soc) / span, 0.0), 1.0)
                else:
                    frac = 1.0 if soc < 1.0 else 0.0
                p_batt = p_batt * frac
            p_batt = fmin(p_batt, remaining / dt_h)
            accept[i] = p_batt / eff[i]
            current[i] = _np_min(accept[i] * 1000.0 / w_a[i], max_a[i])


def session_power_kw(object current_a, object charger_index, object phases, object v_ln_v, object accept_kw,
                     object out_kw):
    cdef str k = "session_power_kw"
    cdef Py_ssize_t i, n = _length(k, "v_ln_v", v_ln_v)
    cdef Py_ssize_t m = _length(k, "current_a", current_a)
    cdef const double* current = _f64(k, "current_a", current_a, m)
    cdef const long long* ci = _i64(k, "charger_index", charger_index, n)
    cdef const long long* ph = _i64(k, "phases", phases, n)
    cdef const double* v_ln = _f64(k, "v_ln_v", v_ln_v, n)
    cdef const double* accept = _f64(k, "accept_kw", accept_kw, n)
    cdef double* out = _f64(k, "out_kw", out_kw, n, True)
    _check_index(k, "charger_index", ci, n, m, "a charger of current_a")
    with nogil:
        for i in range(n):
            out[i] = _np_min(current[ci[i]] * <double>ph[i] * v_ln[i] / 1000.0, accept[i])


def advance_sessions(object p_kw, object efficiency, double dt_h, object delivered_kwh, object out_delivered_kwh,
                     object session_index, object all_delivered_kwh, object charger_index, object tick_energy_kwh):
    cdef str k = "advance_sessions"
    cdef Py_ssize_t i, n = _length(k, "p_kw", p_kw)
    cdef Py_ssize_t n_all = _length(k, "all_delivered_kwh", all_delivered_kwh)
    cdef Py_ssize_t n_chargers = _length(k, "tick_energy_kwh", tick_energy_kwh)
    cdef const double* p = _f64(k, "p_kw", p_kw, n)
    cdef const double* eff = _f64(k, "efficiency", efficiency, n)
    cdef const double* before = _f64(k, "delivered_kwh", delivered_kwh, n)
    cdef double* after = _f64(k, "out_delivered_kwh", out_delivered_kwh, n, True)
    cdef const long long* si = _i64(k, "session_index", session_index, n)
    cdef double* all_kwh = _f64(k, "all_delivered_kwh", all_delivered_kwh, n_all, True)
    cdef const long long* ci = _i64(k, "charger_index", charger_index, n)
    cdef double* tick = _f64(k, "tick_energy_kwh", tick_energy_kwh, n_chargers, True)
    _check_index(k, "session_index", si, n, n_all, "a session of all_delivered_kwh")
    _check_index(k, "charger_index", ci, n, n_chargers, "a charger of tick_energy_kwh")
    with nogil:
        for i in range(n):
            after[i] = before[i] + p[i] * eff[i] * dt_h
            all_kwh[si[i]] = after[i]
            tick[ci[i]] += p[i] * dt_h
