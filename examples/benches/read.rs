//! 4 KiB random reads of a page-cached file through a registered file and
//! registered buffers (`READ_FIXED`), `uring` (raw and in a scope) against
//! the `io-uring` crate, in one run, at queue depth 1 and 32:
//! `cargo bench -p uring-examples --bench read [--profile fat]`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::io::Write as _;
use uring_examples::measure::Rng;
use uring_examples::randread::{Budget, RawReader, ScopeReader};
use uring_examples::randread_io_uring::IoUringReader;

const BS: u32 = 4096;
const BLOCKS: u64 = 16384;
const READS: u64 = 1024;

fn reads(c: &mut Criterion) {
    // 64 MiB, written here, so in the page cache.
    let mut file = tempfile::tempfile().expect("file");
    let block = vec![0xa5u8; BS as usize];
    for _ in 0..BLOCKS {
        file.write_all(&block).expect("fill the file");
    }
    let mut group = c.benchmark_group("read-4k");
    group.throughput(Throughput::Elements(READS));
    for qd in [1u32, 32] {
        let mut rng = Rng::new(1);
        let mut ours = RawReader::new(&file, qd, BS, BLOCKS).expect("ring");
        group.bench_with_input(BenchmarkId::new("uring", qd), &qd, |b, _| {
            b.iter(|| ours.run(&mut rng, &mut Budget::reads(READS)).expect("run"))
        });
        let mut scoped = ScopeReader::new(&file, qd, BS, BLOCKS).expect("ring");
        group.bench_with_input(BenchmarkId::new("uring-scope", qd), &qd, |b, _| {
            b.iter(|| {
                scoped
                    .run(&mut rng, &mut Budget::reads(READS))
                    .expect("run")
            })
        });
        let mut theirs = IoUringReader::new(&file, qd, BS, BLOCKS).expect("ring");
        group.bench_with_input(BenchmarkId::new("io-uring", qd), &qd, |b, _| {
            b.iter(|| {
                theirs
                    .run(&mut rng, &mut Budget::reads(READS))
                    .expect("run")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
