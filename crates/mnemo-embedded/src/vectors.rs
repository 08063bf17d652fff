//! Exact top-k vector search over one scope's vectors, with only an 8-bit copy in memory.
//!
//! Each vector is kept in memory as an `i8` copy with a per-vector scale, row-major and
//! contiguous; the `f32` vector stays in SQLite (a quarter of the memory: at 1M relations
//! the `f32` copies alone were 1.9 GB of a 3.1 GB process). A query scans the `i8` copy.
//! For every row the scan knows an upper and a lower bound of the true score from the
//! quantisation errors (Cauchy–Schwarz: `|q·v − q̂·v̂| ≤ ‖q‖‖v − v̂‖ + ‖q − q̂‖‖v̂‖`), so
//! after the scan only the rows whose upper bound reaches the k-th best lower bound can be
//! in the top k; those are re-scored with their `f32` vector, read through the caller's
//! `exact` (the store reads it by id), best upper bound first, until no remaining row can
//! beat the k-th exact score: usually little more than k reads. The result is the exact top
//! k of the `f32` dot products, not an approximation. Large sets are scanned by several
//! threads.
//!
//! Above a row count the caller chooses ([`VectorSearch::exact_max_rows`]), the scan is preceded by
//! a shortlist: every row also keeps one sign bit per dimension (an eighth of the 8-bit
//! copy), the query is scored against those bits (`Σ ±qᵢ`, through one 256-entry table per
//! byte of bits), and only the best rows (a multiple of k) passing the filter go on to the
//! 8-bit scan and the exact re-scoring. That reads an eighth of the memory for most rows,
//! and the memory, not the arithmetic, is what a scan of a large set waits for; the result
//! is the exact top k of the shortlist, which can miss a row the full scan would find.
//!
//! Vectors are unit length, so the dot product is the cosine similarity. The loops are
//! written over fixed-size chunks so LLVM vectorises them without target-cpu flags.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::sync::OnceLock;

/// Rows × dimension at or above which a search is split across threads.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 21;
const MAX_THREADS: usize = 4;
/// Added to every bound to absorb `f32` rounding in the scores and norms.
const BOUND_SLACK: f32 = 1e-4;

/// How a vector search scans a set: whole, or through a shortlist above a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorSearch {
    /// Sets with at most this many rows are scanned whole (the exact nearest); larger ones
    /// through a shortlist. `usize::MAX` makes every search exact.
    pub exact_max_rows: usize,
    /// Rows the shortlist keeps per result asked for (at least [`SHORTLIST_MIN`] in all).
    pub shortlist_per_result: usize,
}

impl VectorSearch {
    /// Every search exact.
    pub const EXACT: VectorSearch = VectorSearch {
        exact_max_rows: usize::MAX,
        shortlist_per_result: 0,
    };

    /// Rows a shortlist keeps for a search of the `k` best.
    fn shortlist_len(&self, k: usize) -> usize {
        k.saturating_mul(self.shortlist_per_result)
            .max(SHORTLIST_MIN)
    }
}

impl Default for VectorSearch {
    /// Chosen by measurement on real embeddings (`bench_shortlist`; docs/EVAL.md).
    fn default() -> Self {
        VectorSearch {
            exact_max_rows: 20_000,
            shortlist_per_result: 20,
        }
    }
}

/// The fewest rows a shortlist keeps.
pub const SHORTLIST_MIN: usize = 400;

/// Quantisation data of one row: `v̂ = scale · q`, `error = ‖v − v̂‖`, `norm = ‖v̂‖`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct QuantMeta {
    scale: f32,
    error: f32,
    norm: f32,
}

/// What a [`VectorSet`] keeps of a vector, as bytes: a format byte, the 8-bit codes, the
/// sign bits, then scale, error and norm (`f32`, little-endian). Computed when the vector is
/// written and stored beside it, so that opening a store reads it instead of quantising every
/// vector again (at 1M relations that was a quarter of the open time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VectorCode(Vec<u8>);

/// The first byte of a [`VectorCode`]; a stored code of another format is computed again
/// from its vector.
const CODE_FORMAT: u8 = 1;

impl VectorCode {
    pub(crate) fn of(vector: &[f32]) -> VectorCode {
        let d = vector.len();
        let mut codes = vec![0i8; d];
        let meta = quantise(vector, &mut codes);
        let mut bytes = Vec::with_capacity(Self::len(d));
        bytes.push(CODE_FORMAT);
        bytes.extend(codes.iter().map(|&c| c as u8));
        let start = bytes.len();
        bytes.resize(start + d.div_ceil(8), 0);
        sign_bits(vector, &mut bytes[start..]);
        for x in [meta.scale, meta.error, meta.norm] {
            bytes.extend(x.to_le_bytes());
        }
        VectorCode(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `bytes` are a code of this format for `dimension` (a stored code that is not
    /// is computed again from its vector).
    pub(crate) fn fits(bytes: &[u8], dimension: usize) -> bool {
        bytes.len() == Self::len(dimension) && bytes[0] == CODE_FORMAT
    }

    fn len(dimension: usize) -> usize {
        1 + dimension + dimension.div_ceil(8) + 12
    }
}

/// The vectors of one kind (entities, relations or facts) of one scope, each with an id and
/// a payload the search can filter on.
#[derive(Clone, Debug)]
pub(crate) struct VectorSet<Id, P> {
    dimension: usize,
    ids: Vec<Id>,
    payloads: Vec<P>,
    quantised: Vec<i8>,
    meta: Vec<QuantMeta>,
    /// One bit per dimension, set when the component is positive; `signs_per_row` bytes
    /// per row.
    signs: Vec<u8>,
    /// Where the store keeps each row's `f32` vector (its SQLite rowid), so re-scoring
    /// reads it without the id index; -1 when unknown.
    rowids: Vec<i64>,
    rows: HashMap<Id, usize>,
}

impl<Id: Copy + Eq + Hash + Ord + Send + Sync, P: Sync> VectorSet<Id, P> {
    pub(crate) fn new(dimension: usize) -> Self {
        VectorSet {
            dimension,
            ids: Vec::new(),
            payloads: Vec::new(),
            quantised: Vec::new(),
            meta: Vec::new(),
            signs: Vec::new(),
            rowids: Vec::new(),
            rows: HashMap::new(),
        }
    }

    fn signs_per_row(&self) -> usize {
        self.dimension.div_ceil(8)
    }

    /// Makes room for `additional` more rows.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let d = self.dimension;
        self.ids.reserve(additional);
        self.payloads.reserve(additional);
        self.quantised.reserve(additional * d);
        self.meta.reserve(additional);
        self.signs.reserve(additional * self.signs_per_row());
        self.rowids.reserve(additional);
        self.rows.reserve(additional);
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Inserts or replaces by id, quantising `vector` (of the set's dimension).
    #[cfg(test)]
    pub(crate) fn upsert(&mut self, id: Id, payload: P, vector: &[f32]) {
        self.upsert_code(id, payload, VectorCode::of(vector).as_bytes(), -1);
    }

    /// Inserts or replaces by id, from the row's stored code (a [`VectorCode`]'s bytes
    /// for the set's dimension, checked by [`VectorCode::fits`]) and the rowid of its
    /// `f32` vector in the store.
    pub(crate) fn upsert_code(&mut self, id: Id, payload: P, code: &[u8], rowid: i64) {
        let d = self.dimension;
        let b = self.signs_per_row();
        assert!(VectorCode::fits(code, d), "code checked by caller");
        let row = match self.rows.get(&id) {
            Some(&row) => {
                self.payloads[row] = payload;
                row
            }
            None => {
                let row = self.ids.len();
                self.ids.push(id);
                self.payloads.push(payload);
                self.quantised.resize((row + 1) * d, 0);
                self.meta.push(QuantMeta::default());
                self.signs.resize((row + 1) * b, 0);
                self.rowids.push(rowid);
                self.rows.insert(id, row);
                row
            }
        };
        self.rowids[row] = rowid;
        let (codes, rest) = code[1..].split_at(d);
        let (signs, meta) = rest.split_at(b);
        for (q, &c) in self.quantised[row * d..(row + 1) * d].iter_mut().zip(codes) {
            *q = c as i8;
        }
        self.signs[row * b..(row + 1) * b].copy_from_slice(signs);
        let float = |i: usize| f32::from_le_bytes([meta[i], meta[i + 1], meta[i + 2], meta[i + 3]]);
        self.meta[row] = QuantMeta {
            scale: float(0),
            error: float(4),
            norm: float(8),
        };
    }

    /// Removes by id (the last row moves into the hole); the payload if it was there.
    pub(crate) fn remove(&mut self, id: &Id) -> Option<P> {
        let row = self.rows.remove(id)?;
        let last = self.ids.len() - 1;
        let (d, b) = (self.dimension, self.signs_per_row());
        if row != last {
            self.quantised
                .copy_within(last * d..(last + 1) * d, row * d);
            self.signs.copy_within(last * b..(last + 1) * b, row * b);
            self.rows.insert(self.ids[last], row);
        }
        self.ids.swap_remove(row);
        self.meta.swap_remove(row);
        self.rowids.swap_remove(row);
        self.quantised.truncate(last * d);
        self.signs.truncate(last * b);
        Some(self.payloads.swap_remove(row))
    }

    pub(crate) fn payload_mut(&mut self, id: &Id) -> Option<&mut P> {
        let row = *self.rows.get(id)?;
        Some(&mut self.payloads[row])
    }

    /// The row's 8-bit codes, their scale and the payload (for the diagnostic dump).
    pub(crate) fn get(&self, id: &Id) -> Option<(&[i8], f32, &P)> {
        let row = *self.rows.get(id)?;
        let d = self.dimension;
        Some((
            &self.quantised[row * d..(row + 1) * d],
            self.meta[row].scale,
            &self.payloads[row],
        ))
    }

    /// Every id, in no particular order.
    pub(crate) fn ids(&self) -> &[Id] {
        &self.ids
    }

    /// The exact `k` best rows by dot product with `query` among those whose payload passes
    /// `keep`, best first (ties by id): [`VectorSet::candidates`] then
    /// [`Candidates::rescore`]. `query` must have the set's dimension.
    #[cfg(test)]
    pub(crate) fn search<E>(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(&P) -> bool + Sync,
        mut exact: impl FnMut(&Id) -> Result<Option<Vec<f32>>, E>,
    ) -> Result<Vec<(Id, f32)>, E> {
        self.candidates(query, k, keep, VectorSearch::EXACT)
            .rescore(query, |id, _| exact(id))
    }

    /// The scan: every row passing `keep` that could be among the `k` best by dot product
    /// with `query` (among the shortlist's rows, for a set larger than
    /// `search.exact_max_rows`), best upper bound first. Needs only the set (the caller's
    /// memory lock); the re-scoring, which reads the store, comes after.
    pub(crate) fn candidates(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(&P) -> bool + Sync,
        search: VectorSearch,
    ) -> Candidates<Id> {
        assert_eq!(
            query.len(),
            self.dimension,
            "query length checked by caller"
        );
        if k == 0 || self.is_empty() {
            return Candidates {
                k,
                rows: Vec::new(),
            };
        }
        let d = self.dimension;
        let mut query_q = vec![0i8; d];
        let query_meta = quantise(query, &mut query_q);
        let query_norm = norm(query);
        let scan = Scan {
            set: self,
            query_q: &query_q,
            query_scale: query_meta.scale,
            query_norm,
            query_error: query_meta.error,
            k,
            keep: &keep,
        };

        let n = self.len();
        let partials: Vec<Partial> = if n > search.exact_max_rows {
            let shortlist = self.shortlist(query, search.shortlist_len(k), &keep);
            vec![scan.run(shortlist.into_iter())]
        } else {
            split(n, n * d, |rows| scan.run(rows))
        };

        // The k-th best lower bound over all rows that passed the filter: no row whose
        // upper bound is below it can be in the top k.
        let mut lowers: Vec<f32> = partials
            .iter()
            .flat_map(|p| p.lowers.iter().copied())
            .collect();
        let threshold = if lowers.len() >= k {
            lowers.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            lowers[k - 1]
        } else {
            f32::NEG_INFINITY
        };

        let mut rows: Vec<(Id, i64, f32)> = partials
            .iter()
            .flat_map(|p| p.candidates.iter())
            .filter(|&&(_, upper)| upper >= threshold)
            .map(|&(row, upper)| (self.ids[row], self.rowids[row], upper))
            .collect();
        rows.sort_by(|a, b| Score(b.2).cmp(&Score(a.2)).then_with(|| a.0.cmp(&b.0)));
        Candidates { k, rows }
    }
}

impl<Id: Copy + Eq + Hash + Ord + Send + Sync, P: Sync> VectorSet<Id, P> {
    /// The `len` rows passing `keep` with the best sign-bit scores against `query`, in
    /// row order. A row's score is `Σ ±qᵢ` (plus where its component is positive), summed a
    /// byte of bits at a time from per-byte tables; `keep` is asked only of rows that would
    /// enter the shortlist.
    fn shortlist(
        &self,
        query: &[f32],
        len: usize,
        keep: &(impl Fn(&P) -> bool + Sync),
    ) -> Vec<usize> {
        let b = self.signs_per_row();
        let tables = sign_tables(query);
        // The best `len` by score, ties by smaller id, so the shortlist depends only on the
        // set's content, never on its row order. Kept rows collect in a buffer that is cut
        // back to the best `len` whenever it doubles (cheaper than a heap of thousands).
        let by_rank = |a: &(i32, usize), b: &(i32, usize)| {
            b.0.cmp(&a.0)
                .then_with(|| self.ids[a.1].cmp(&self.ids[b.1]))
        };
        let best_of = |kept: &mut Vec<(i32, usize)>| {
            if kept.len() > len {
                kept.select_nth_unstable_by(len - 1, by_rank);
                kept.truncate(len);
            }
        };
        let scan = |rows: std::ops::Range<usize>| {
            let mut kept: Vec<(i32, usize)> = Vec::with_capacity(2 * len);
            let mut worst = i32::MIN;
            let signs = &self.signs[rows.start * b..rows.end * b];
            for (row, bits) in rows.zip(signs.chunks_exact(b)) {
                let score = table_sum(bits, &tables);
                if score < worst || !keep(&self.payloads[row]) {
                    continue;
                }
                kept.push((score, row));
                if kept.len() == 2 * len {
                    best_of(&mut kept);
                    worst = kept.iter().map(|k| k.0).min().unwrap_or(i32::MIN);
                }
            }
            kept
        };
        let mut all: Vec<(i32, usize)> = split(self.len(), self.len() * b, scan)
            .into_iter()
            .flatten()
            .collect();
        best_of(&mut all);
        let mut rows: Vec<usize> = all.into_iter().map(|(_, row)| row).collect();
        rows.sort_unstable();
        rows
    }
}

/// `work` over `0..n`, split across threads when `elements` (what it reads) reaches
/// [`PARALLEL_MIN_ELEMENTS`]; one result per part, in order.
fn split<T: Send>(
    n: usize,
    elements: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = if elements >= PARALLEL_MIN_ELEMENTS {
        available_threads()
    } else {
        1
    };
    if threads == 1 {
        return vec![work(0..n)];
    }
    let per = n.div_ceil(threads);
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads)
            .map(|t| s.spawn(move || work(t * per..((t + 1) * per).min(n))))
            .collect();
        let mut parts = vec![work(0..per.min(n))];
        parts.extend(handles.into_iter().map(|h| match h.join() {
            Ok(part) => part,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        parts
    })
}

/// What a scan left: the rows that could be in the top k, with the rowids of their `f32`
/// vectors and their upper bounds, best first.
#[derive(Debug)]
pub(crate) struct Candidates<Id> {
    k: usize,
    rows: Vec<(Id, i64, f32)>,
}

impl<Id: Copy + Ord> Candidates<Id> {
    /// The exact top k, best first (ties by id): each candidate scored with its `f32`
    /// vector from `exact` (given the id and the rowid it was upserted with: the vector it
    /// was upserted with; `None` when it is gone, and it is skipped), best upper bound
    /// first, until the k-th exact score beats the next upper bound and no candidate left
    /// can enter.
    pub(crate) fn rescore<E>(
        self,
        query: &[f32],
        mut exact: impl FnMut(&Id, i64) -> Result<Option<Vec<f32>>, E>,
    ) -> Result<Vec<(Id, f32)>, E> {
        let mut best: TopK<Ranked<Id>> = TopK::new(self.k);
        for (id, rowid, upper) in self.rows {
            if best.worst().is_some_and(|worst| Score(upper) < worst.score) {
                break;
            }
            let Some(vector) = exact(&id, rowid)? else {
                continue;
            };
            if vector.len() != query.len() {
                continue;
            }
            best.offer(Ranked {
                score: Score(dot_f32(query, &vector)),
                id: Reverse(id),
            });
        }
        Ok(best
            .into_sorted()
            .into_iter()
            .map(|r| (r.id.0, r.score.0))
            .collect())
    }
}

/// The query side of a scan, shared by the threads.
struct Scan<'a, Id, P, F> {
    set: &'a VectorSet<Id, P>,
    query_q: &'a [i8],
    query_scale: f32,
    query_norm: f32,
    query_error: f32,
    k: usize,
    keep: &'a F,
}

/// What one thread's scan found: the best lower bounds and every row that could still be in
/// the top k when it was scanned, with its upper bound.
struct Partial {
    lowers: Vec<f32>,
    candidates: Vec<(usize, f32)>,
}

impl<Id: Sync, P: Sync, F: Fn(&P) -> bool + Sync> Scan<'_, Id, P, F> {
    fn run(&self, rows: impl Iterator<Item = usize>) -> Partial {
        let d = self.set.dimension;
        let mut lowers = TopK::new(self.k);
        let mut candidates = Vec::new();
        let mut threshold = f32::NEG_INFINITY;
        for row in rows {
            let v = &self.set.quantised[row * d..(row + 1) * d];
            let meta = &self.set.meta[row];
            let approx = dot_i8(self.query_q, v) as f32 * self.query_scale * meta.scale;
            let bound = self.query_norm * meta.error + self.query_error * meta.norm;
            let bound = bound * (1.0 + 1e-3) + BOUND_SLACK;
            let upper = approx + bound;
            // A NaN bound compares false and is skipped.
            let could_rank = upper >= threshold;
            if !could_rank || !(self.keep)(&self.set.payloads[row]) {
                continue;
            }
            candidates.push((row, upper));
            if lowers.offer(Score(approx - bound)) {
                threshold = lowers.worst().map_or(f32::NEG_INFINITY, |s| s.0);
            }
        }
        Partial {
            lowers: lowers.into_sorted().into_iter().map(|s| s.0).collect(),
            candidates,
        }
    }
}

/// Writes the `i8` codes of `v` into `out` and returns its quantisation data.
fn quantise(v: &[f32], out: &mut [i8]) -> QuantMeta {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        out.fill(0);
        return QuantMeta {
            scale: 0.0,
            error: norm(v),
            norm: 0.0,
        };
    }
    let scale = max / 127.0;
    let inverse = 127.0 / max;
    // Round half away from zero without a libm call (SSE2 has no rounding instruction).
    let code = |x: f32| {
        let y = x * inverse;
        ((y + 0.5f32.copysign(y)) as i32).clamp(-127, 127)
    };
    const LANES: usize = 8;
    let (v_chunks, v_tail) = v.as_chunks::<LANES>();
    let (out_chunks, out_tail) = out.as_chunks_mut::<LANES>();
    let (mut error, mut norm_sq) = ([0f32; LANES], [0f32; LANES]);
    for (o, x) in out_chunks.iter_mut().zip(v_chunks) {
        for i in 0..LANES {
            let c = code(x[i]);
            o[i] = c as i8;
            let restored = c as f32 * scale;
            error[i] += (x[i] - restored) * (x[i] - restored);
            norm_sq[i] += restored * restored;
        }
    }
    for (o, &x) in out_tail.iter_mut().zip(v_tail) {
        let c = code(x);
        *o = c as i8;
        let restored = c as f32 * scale;
        error[0] += (x - restored) * (x - restored);
        norm_sq[0] += restored * restored;
    }
    // f32 sums of a few hundred terms are off by far less than the bound's slack.
    QuantMeta {
        scale,
        error: error.iter().sum::<f32>().sqrt(),
        norm: norm_sq.iter().sum::<f32>().sqrt(),
    }
}

/// What [`sign_tables`] multiplies the query by: its largest component becomes
/// `2³⁰ / dimension`, so a row's sum over every dimension stays within ±2³⁰ whatever the
/// dimension (at 384, about 2²¹·⁴ per component: rounding far below any score gap).
fn sign_scale(query: &[f32]) -> f64 {
    let max = query.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max > 0.0 && max.is_finite() && !query.is_empty() {
        f64::from(1u32 << 30) / query.len() as f64 / f64::from(max)
    } else {
        0.0
    }
}

/// For each byte of a row's sign bits, the 256 values `Σ ±qᵢ` over its 8 components (plus
/// where the bit is set), as integers ([`sign_scale`]): integer adds do not wait on each
/// other as float adds do.
fn sign_tables(query: &[f32]) -> Vec<[i32; 256]> {
    let unit = sign_scale(query);
    let mut tables = vec![[0i32; 256]; query.len().div_ceil(8)];
    for (byte, table) in tables.iter_mut().enumerate() {
        let q: Vec<i32> = query[byte * 8..((byte + 1) * 8).min(query.len())]
            .iter()
            .map(|&x| (f64::from(x) * unit) as i32)
            .collect();
        table[0] = -q.iter().sum::<i32>();
        for bits in 1..256usize {
            let lowest = bits.trailing_zeros() as usize;
            table[bits] = table[bits & (bits - 1)] + q.get(lowest).map_or(0, |x| 2 * x);
        }
    }
    tables
}

/// `Σ tables[j][bits[j]]` over the bytes `j` of a row's sign bits, in four independent sums
/// (a `u8` index into a 256-entry table needs no bounds check).
fn table_sum(bits: &[u8], tables: &[[i32; 256]]) -> i32 {
    let mut acc = [0i32; 4];
    let (chunks, tail) = bits.as_chunks::<4>();
    let (table_chunks, table_tail) = tables.as_chunks::<4>();
    for (chunk, table) in chunks.iter().zip(table_chunks) {
        for i in 0..4 {
            acc[i] += table[i][usize::from(chunk[i])];
        }
    }
    let tail: i32 = tail
        .iter()
        .zip(table_tail)
        .map(|(&byte, table)| table[usize::from(byte)])
        .sum();
    acc.iter().sum::<i32>() + tail
}

/// Writes one bit per component of `v` into `out`, set when the component is positive.
fn sign_bits(v: &[f32], out: &mut [u8]) {
    for (byte, chunk) in out.iter_mut().zip(v.chunks(8)) {
        *byte = chunk
            .iter()
            .enumerate()
            .filter(|(_, x)| **x > 0.0)
            .fold(0, |bits, (i, _)| bits | (1 << i));
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt() as f32
}

/// `f32` dot product; 16 independent lanes so LLVM emits packed multiply-adds.
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `i8` dot product with exact integer accumulation (products fit `i16`, sums `i32`).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 32;
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0i32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += i32::from(i16::from(x[i]) * i16::from(y[i]));
        }
    }
    let tail: i32 = a_tail
        .iter()
        .zip(b_tail)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    acc.iter().sum::<i32>() + tail
}

fn available_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS)
    })
}

/// A score with a total order (NaN sorts lowest).
#[derive(Clone, Copy, Debug)]
struct Score(f32);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        nan_lowest(self.0).total_cmp(&nan_lowest(other.0))
    }
}

fn nan_lowest(x: f32) -> f32 {
    if x.is_nan() { f32::NEG_INFINITY } else { x }
}

/// A hit ordered by score, then by smaller id first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ranked<Id> {
    score: Score,
    id: Reverse<Id>,
}

/// The `k` greatest items offered.
struct TopK<T> {
    k: usize,
    heap: BinaryHeap<Reverse<T>>,
}

impl<T: Ord> TopK<T> {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Keeps `item` if it is among the k greatest so far; whether the k-th changed.
    fn offer(&mut self, item: T) -> bool {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(item));
            return self.heap.len() == self.k;
        }
        match self.heap.peek() {
            Some(Reverse(worst)) if item > *worst => {
                self.heap.pop();
                self.heap.push(Reverse(item));
                true
            }
            _ => false,
        }
    }

    /// The k-th greatest, once k items were kept.
    fn worst(&self) -> Option<&T> {
        (self.heap.len() == self.k)
            .then(|| self.heap.peek().map(|r| &r.0))
            .flatten()
    }

    /// Greatest first.
    fn into_sorted(self) -> Vec<T> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use mnemo_testkit::fixtures::{RandomData as _, seeded};

    /// The reference: score every row in f32, sort, keep k.
    fn brute_force(
        rows: &[(u32, bool, Vec<f32>)],
        query: &[f32],
        k: usize,
        filtered: bool,
    ) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = rows
            .iter()
            .filter(|(_, visible, _)| !filtered || *visible)
            .map(|(id, _, v)| (*id, dot_f32(query, v)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    /// `set.search` with the exact vectors read from `rows`, counting the reads.
    fn search_rows(
        set: &VectorSet<u32, bool>,
        rows: &[(u32, bool, Vec<f32>)],
        query: &[f32],
        k: usize,
        keep: impl Fn(&bool) -> bool + Sync,
        reads: &mut usize,
    ) -> Vec<(u32, f32)> {
        let by_id: HashMap<u32, &Vec<f32>> = rows.iter().map(|(id, _, v)| (*id, v)).collect();
        let exact = |id: &u32| {
            *reads += 1;
            Ok::<_, ()>(by_id.get(id).map(|v| (*v).clone()))
        };
        set.search(query, k, keep, exact).unwrap()
    }

    /// Builds a set of `n` random rows (`visible_every`-th row visible), removes some, and
    /// checks search against the brute-force reference for several k, with and without
    /// the filter.
    fn check(n: usize, d: usize, visible_every: u32, seed: u64) {
        let mut rng = seeded(seed);
        let mut set: VectorSet<u32, bool> = VectorSet::new(d);
        let mut rows = Vec::new();
        for id in 0..n as u32 {
            let v = rng.unit(d);
            let visible = id % visible_every == 0;
            set.upsert(id, visible, &v);
            rows.push((id, visible, v));
        }
        // Remove every 7th row and replace every 11th, to exercise swap_remove and upsert.
        for id in (0..n as u32).step_by(7) {
            assert_eq!(set.remove(&id), Some(id % visible_every == 0));
        }
        rows.retain(|(id, _, _)| id % 7 != 0);
        for row in rows.iter_mut().filter(|(id, _, _)| id % 11 == 0) {
            row.2 = rng.unit(d);
            set.upsert(row.0, row.1, &row.2);
        }
        assert_eq!(set.len(), rows.len());
        for _ in 0..5 {
            let query = rng.unit(d);
            for k in [1, 3, 10, 100] {
                for filtered in [false, true] {
                    let mut reads = 0;
                    let keep = |visible: &bool| !filtered || *visible;
                    let got = search_rows(&set, &rows, &query, k, keep, &mut reads);
                    let want = brute_force(&rows, &query, k, filtered);
                    assert_eq!(got, want, "n={n} d={d} k={k} filtered={filtered}");
                    // Re-scoring reads few rows: the bounds leave little beyond the top k
                    // in 384 dimensions.
                    if d == 384 && n >= 1_000 {
                        assert!(reads <= 3 * k + 20, "n={n} k={k}: {reads} reads");
                    }
                }
            }
        }
    }

    #[test]
    fn search_equals_brute_force() {
        check(0, 8, 1, 1);
        check(1, 8, 1, 2);
        check(5, 3, 2, 3);
        check(50, 17, 3, 4);
        check(1_000, 384, 4, 5);
        // Above PARALLEL_MIN_ELEMENTS: the threaded scan.
        check(6_000, 384, 5, 6);
    }

    #[test]
    fn search_returns_k_visible_hits_when_few_are_visible() {
        let mut rng = seeded(7);
        let mut set: VectorSet<u32, bool> = VectorSet::new(32);
        let mut rows = Vec::new();
        for id in 0..2_000 {
            let v = rng.unit(32);
            set.upsert(id, id % 400 == 0, &v);
            rows.push((id, id % 400 == 0, v));
        }
        let hits = search_rows(&set, &rows, &rng.unit(32), 10, |v| *v, &mut 0);
        let ids: Vec<u32> = hits.iter().map(|h| h.0).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.iter().all(|id| id % 400 == 0), "{ids:?}");
    }

    #[test]
    fn duplicates_and_zero_vectors_are_exact() {
        // Identical vectors: every bound overlaps, ties break by id.
        let mut set: VectorSet<u32, bool> = VectorSet::new(4);
        let mut rows = Vec::new();
        for id in (0..20).rev() {
            set.upsert(id, true, &[0.5, 0.5, 0.5, 0.5]);
            rows.push((id, true, vec![0.5; 4]));
        }
        set.upsert(99, true, &[0.0; 4]);
        rows.push((99, true, vec![0.0; 4]));
        let got = search_rows(&set, &rows, &[0.5, 0.5, 0.5, 0.5], 3, |_| true, &mut 0);
        assert_eq!(got, vec![(0, 1.0), (1, 1.0), (2, 1.0)]);
        let got = search_rows(&set, &rows, &[0.0; 4], 2, |_| true, &mut 0);
        assert_eq!(got, vec![(0, 0.0), (1, 0.0)]);
    }

    #[test]
    fn dot_products_match_naive() {
        let mut rng = seeded(9);
        for d in [1, 15, 16, 33, 384] {
            let (a, b) = (rng.unit(d), rng.unit(d));
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot_f32(&a, &b) - naive).abs() < 1e-5, "d={d}");
            let ai: Vec<i8> = (0..d).map(|i| (i as i32 * 37 % 255 - 127) as i8).collect();
            let bi: Vec<i8> = (0..d).map(|i| (i as i32 * 91 % 255 - 127) as i8).collect();
            let naive: i32 = ai
                .iter()
                .zip(&bi)
                .map(|(&x, &y)| i32::from(x) * i32::from(y))
                .sum();
            assert_eq!(dot_i8(&ai, &bi), naive, "d={d}");
        }
        let extreme = [-128i8; 64];
        assert_eq!(dot_i8(&extreme, &extreme), 64 * 128 * 128);
    }
}

#[cfg(test)]
mod gone_rows {
    use super::*;

    use mnemo_testkit::fixtures::{RandomData as _, seeded};

    /// A row whose exact vector is gone (deleted in the store, its removal not yet applied
    /// in memory) is skipped; the rest keep their order.
    #[test]
    fn a_row_without_its_exact_vector_is_skipped() {
        let mut rng = seeded(11);
        let mut set: VectorSet<u32, ()> = VectorSet::new(16);
        let rows: Vec<Vec<f32>> = (0..50).map(|_| rng.unit(16)).collect();
        for (id, v) in rows.iter().enumerate() {
            set.upsert(id as u32, (), v);
        }
        let query = rows[7].clone();
        let exact = |gone: Option<u32>| {
            let rows = &rows;
            move |id: &u32| Ok::<_, ()>((Some(*id) != gone).then(|| rows[*id as usize].clone()))
        };
        let all = set.search(&query, 3, |_| true, exact(None)).unwrap();
        assert_eq!(all[0].0, 7);
        let without = set.search(&query, 3, |_| true, exact(Some(7))).unwrap();
        assert!(without.iter().all(|(id, _)| *id != 7), "{without:?}");
        assert_eq!(&without[..2], &all[1..], "{all:?} / {without:?}");
    }
}

#[cfg(test)]
mod shortlist {
    use super::*;

    use mnemo_testkit::fixtures::{RandomData as _, Rng, seeded};

    const D: usize = 384;
    const SHORTLIST: VectorSearch = VectorSearch {
        exact_max_rows: 0,
        shortlist_per_result: 20,
    };

    /// `v` moved a little: cosine about 0.9 with it.
    fn near(rng: &mut Rng, v: &[f32]) -> Vec<f32> {
        let noise = rng.unit(v.len());
        let moved: Vec<f32> = v.iter().zip(&noise).map(|(a, b)| a + 0.45 * b).collect();
        let norm = norm(&moved);
        moved.iter().map(|x| x / norm).collect()
    }

    fn search(
        set: &VectorSet<u32, bool>,
        vectors: &HashMap<u32, Vec<f32>>,
        query: &[f32],
        k: usize,
        how: VectorSearch,
    ) -> Vec<(u32, f32)> {
        let exact = |id: &u32, _| Ok::<_, ()>(vectors.get(id).cloned());
        set.candidates(query, k, |visible| *visible, how)
            .rescore(query, exact)
            .unwrap()
    }

    /// 3,000 random rows and, around a query, 15 planted neighbours of which the odd ones
    /// are not visible: the shortlist gives the exact search's answer.
    #[test]
    fn a_shortlisted_search_finds_the_planted_neighbours_that_pass_the_filter() {
        let mut rng = seeded(21);
        let query = rng.unit(D);
        let mut set: VectorSet<u32, bool> = VectorSet::new(D);
        let mut vectors = HashMap::new();
        for id in 0..3_015u32 {
            let (v, visible) = if id >= 3_000 {
                (near(&mut rng, &query), id % 2 == 0)
            } else {
                (rng.unit(D), true)
            };
            set.upsert(id, visible, &v);
            vectors.insert(id, v);
        }
        let exact = search(&set, &vectors, &query, 5, VectorSearch::EXACT);
        let shortlisted = search(&set, &vectors, &query, 5, SHORTLIST);
        assert_eq!(shortlisted, exact);
        assert!(
            shortlisted
                .iter()
                .all(|(id, _)| *id >= 3_000 && id % 2 == 0),
            "{shortlisted:?}"
        );
    }

    /// With five visible rows among thousands, the filter applies inside the shortlist, so
    /// all five are found.
    #[test]
    fn a_shortlist_keeps_only_rows_that_pass_the_filter() {
        let mut rng = seeded(22);
        let mut set: VectorSet<u32, bool> = VectorSet::new(D);
        let mut vectors = HashMap::new();
        for id in 0..5_000u32 {
            let v = rng.unit(D);
            set.upsert(id, id % 1_000 == 7, &v);
            vectors.insert(id, v);
        }
        let query = rng.unit(D);
        let found = search(&set, &vectors, &query, 10, SHORTLIST);
        let mut ids: Vec<u32> = found.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![7, 1_007, 2_007, 3_007, 4_007]);
    }

    /// The same rows written in another order, with other rows written and removed in
    /// between, give the same shortlisted answers: the shortlist breaks ties by id, not by
    /// where a row sits.
    #[test]
    fn a_shortlisted_search_does_not_depend_on_the_order_rows_arrived_in() {
        let mut rng = seeded(23);
        // Eight dimensions: 256 sign patterns for 3,000 rows, so scores tie at the
        // shortlist's edge.
        let d = 8;
        let rows: Vec<(u32, Vec<f32>)> = (0..3_000).map(|id| (id, rng.unit(d))).collect();
        let vectors: HashMap<u32, Vec<f32>> = rows.iter().cloned().collect();
        let mut sorted: VectorSet<u32, bool> = VectorSet::new(d);
        for (id, v) in &rows {
            sorted.upsert(*id, true, v);
        }
        let mut shuffled: VectorSet<u32, bool> = VectorSet::new(d);
        for (id, _) in rows.iter().take(500) {
            shuffled.upsert(id + 10_000, true, &rng.unit(d));
        }
        for i in 0..rows.len() {
            let (id, v) = &rows[(i * 7_919) % rows.len()];
            shuffled.upsert(*id, true, v);
        }
        for (id, _) in rows.iter().take(500) {
            assert!(shuffled.remove(&(id + 10_000)).is_some());
        }
        assert_eq!(sorted.len(), shuffled.len());
        let shortlisted = |set: &VectorSet<u32, bool>, query: &[f32]| {
            let mut ids: Vec<u32> = set
                .shortlist(query, 400, &|_| true)
                .into_iter()
                .map(|row| set.ids[row])
                .collect();
            ids.sort_unstable();
            ids
        };
        for _ in 0..20 {
            let query = rng.unit(d);
            assert_eq!(shortlisted(&sorted, &query), shortlisted(&shuffled, &query));
            assert_eq!(
                search(&sorted, &vectors, &query, 3, SHORTLIST),
                search(&shuffled, &vectors, &query, 3, SHORTLIST)
            );
        }
    }

    /// A set at the size limit is scanned whole (the exact answer on random rows, where a
    /// shortlist of sign bits is a poor guess); the shortlist starts one row above it.
    #[test]
    fn sets_up_to_the_limit_are_searched_exactly() {
        let mut rng = seeded(24);
        let mut set: VectorSet<u32, bool> = VectorSet::new(D);
        let mut vectors = HashMap::new();
        for id in 0..2_000u32 {
            let v = rng.unit(D);
            set.upsert(id, true, &v);
            vectors.insert(id, v);
        }
        let at_limit = VectorSearch {
            exact_max_rows: 2_000,
            shortlist_per_result: 1,
        };
        let mut differs = 0;
        for _ in 0..20 {
            let query = rng.unit(D);
            let exact = search(&set, &vectors, &query, 100, VectorSearch::EXACT);
            assert_eq!(search(&set, &vectors, &query, 100, at_limit), exact);
            let above = VectorSearch {
                exact_max_rows: 1_999,
                ..at_limit
            };
            differs += usize::from(search(&set, &vectors, &query, 100, above) != exact);
        }
        assert!(
            differs > 0,
            "a 400-row shortlist of random rows should miss"
        );
    }

    #[test]
    fn sign_bits_mark_positive_components() {
        let mut out = [0u8; 2];
        sign_bits(&[0.5, -0.1, 0.0, 0.2, -0.3, 0.1, 0.1, -0.9, 0.4], &mut out);
        assert_eq!(out, [0b0110_1001, 0b1]);
    }

    /// The integer tables give `Σ ±qᵢ` up to their rounding.
    #[test]
    fn table_sums_are_signed_sums_of_the_query() {
        let mut rng = seeded(25);
        let (query, row) = (rng.unit(D), rng.unit(D));
        let mut bits = vec![0u8; D / 8];
        sign_bits(&row, &mut bits);
        let mut set: VectorSet<u32, ()> = VectorSet::new(D);
        set.upsert(1, (), &row);
        let want: f32 = query
            .iter()
            .zip(&row)
            .map(|(q, v)| if *v > 0.0 { *q } else { -*q })
            .sum();
        // The shortlist of one row is that row, and its score is what the tables sum to.
        let tables = super::sign_tables(&query);
        let got = f64::from(table_sum(&bits, &tables)) / sign_scale(&query);
        assert!((got - f64::from(want)).abs() < 1e-4, "{got} vs {want}");
        assert_eq!(set.shortlist(&query, 1, &|_| true), vec![0]);
    }

    /// However long the vectors, a row agreeing with every sign of a query whose
    /// components are all at its largest sums to at most 2³⁰: no overflow (which a debug
    /// build would panic on).
    #[test]
    fn table_sums_do_not_overflow_at_any_dimension() {
        for d in [8, 384, 3_072, 65_536] {
            let query = vec![1.0f32; d];
            let tables = sign_tables(&query);
            let bits = vec![0xffu8; d / 8];
            let sum = table_sum(&bits, &tables);
            assert!(sum > 0 && sum <= 1 << 30, "d={d}: {sum}");
            assert_eq!(table_sum(&vec![0u8; d / 8], &tables), -sum, "d={d}");
        }
    }

    /// A code holds exactly what `quantise` and `sign_bits` make of the vector, and only a
    /// code of this format and length fits a dimension.
    #[test]
    fn a_code_is_the_quantised_vector() {
        let mut rng = seeded(11);
        let v = rng.unit(20);
        let code = VectorCode::of(&v);
        let mut codes = vec![0i8; 20];
        let meta = quantise(&v, &mut codes);
        let mut set = VectorSet::<u32, ()>::new(20);
        set.upsert_code(7, (), code.as_bytes(), 70);
        assert_eq!(set.rowids, [70]);
        assert_eq!(set.get(&7), Some((&codes[..], meta.scale, &())));
        assert_eq!(set.meta[0], meta);
        let mut signs = vec![0u8; 3];
        sign_bits(&v, &mut signs);
        assert_eq!(set.signs, signs);

        assert!(VectorCode::fits(code.as_bytes(), 20));
        assert!(!VectorCode::fits(code.as_bytes(), 21));
        assert!(!VectorCode::fits(&code.as_bytes()[1..], 20));
        let mut other_format = code.as_bytes().to_vec();
        other_format[0] = CODE_FORMAT + 1;
        assert!(!VectorCode::fits(&other_format, 20));
    }
}
