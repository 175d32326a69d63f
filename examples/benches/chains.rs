//! Linked chains of `uring` (raw and in a scope) against the `io-uring`
//! crate, in one run: NOP -> NOP pairs at batch 1 and 32, and 4 KiB
//! read -> write chains (a page-cached file to another) at batch 1 and 16:
//! `cargo bench -p uring-examples --bench chains [--profile fat]`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::io::Write as _;
use uring_examples::chains::{self, CopyChains, IoUringCopyChains};

const PAIRS: u64 = 2048;
const BS: u32 = 4096;
const ROUNDS: u64 = 64;

fn nop_pairs(c: &mut Criterion) {
    let mut group = c.benchmark_group("nop-pairs");
    group.throughput(Throughput::Elements(PAIRS));
    for batch in [1u32, 32] {
        let entries = (2 * batch).next_power_of_two();
        let mut ours = uring::Ring::new(entries).expect("ring");
        group.bench_with_input(BenchmarkId::new("uring", batch), &batch, |b, &batch| {
            b.iter(|| chains::nop_pairs_uring(&mut ours, PAIRS, batch).expect("run"))
        });
        group.bench_with_input(
            BenchmarkId::new("uring-scope", batch),
            &batch,
            |b, &batch| b.iter(|| chains::nop_pairs_scope(&mut ours, PAIRS, batch).expect("run")),
        );
        let mut theirs = io_uring::IoUring::new(entries).expect("ring");
        group.bench_with_input(BenchmarkId::new("io-uring", batch), &batch, |b, &batch| {
            b.iter(|| chains::nop_pairs_io_uring(&mut theirs, PAIRS, batch).expect("run"))
        });
    }
    group.finish();
}

fn read_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("read-write-4k");
    for batch in [1u32, 16] {
        // Written here, so in the page cache.
        let mut src = tempfile::tempfile().expect("source");
        src.write_all(&vec![0x5a; (batch * BS) as usize])
            .expect("fill the source");
        let dst = tempfile::tempfile().expect("destination");
        group.throughput(Throughput::Elements(ROUNDS * u64::from(batch)));
        let mut ours = CopyChains::new(&src, &dst, batch, BS).expect("ring");
        group.bench_with_input(BenchmarkId::new("uring", batch), &batch, |b, _| {
            b.iter(|| ours.run(ROUNDS).expect("run"))
        });
        let mut theirs = IoUringCopyChains::new(&src, &dst, batch, BS).expect("ring");
        group.bench_with_input(BenchmarkId::new("io-uring", batch), &batch, |b, _| {
            b.iter(|| theirs.run(ROUNDS).expect("run"))
        });
    }
    group.finish();
}

criterion_group!(benches, nop_pairs, read_write);
criterion_main!(benches);
