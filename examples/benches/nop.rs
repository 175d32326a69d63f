//! NOP throughput of `uring` (raw and in a scope) against the `io-uring`
//! crate, in one run, at batch 1, 32 and 128:
//! `cargo bench -p uring-examples --bench nop [--profile fat]`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use uring_examples::nop;

const OPS: u64 = 4096;

fn nops(c: &mut Criterion) {
    let mut group = c.benchmark_group("nop");
    group.throughput(Throughput::Elements(OPS));
    for batch in [1u32, 32, 128] {
        let mut ours = uring::Ring::new(nop::ENTRIES).expect("ring");
        group.bench_with_input(BenchmarkId::new("uring", batch), &batch, |b, &batch| {
            b.iter(|| nop::run_uring(&mut ours, OPS, batch).expect("run"))
        });
        group.bench_with_input(
            BenchmarkId::new("uring-scope", batch),
            &batch,
            |b, &batch| b.iter(|| nop::run_uring_scope(&mut ours, OPS, batch).expect("run")),
        );
        let mut theirs = io_uring::IoUring::new(nop::ENTRIES).expect("ring");
        group.bench_with_input(BenchmarkId::new("io-uring", batch), &batch, |b, &batch| {
            b.iter(|| nop::run_io_uring(&mut theirs, OPS, batch).expect("run"))
        });
    }
    group.finish();
}

criterion_group!(benches, nops);
criterion_main!(benches);
