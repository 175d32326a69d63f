//! Registered buffers through the reactor: `Handle::register_buffers`, the
//! pool that lends its buffers out as `FixedBuffer`s, and the fixed-buffer
//! reads and writes (`ReadFixed`, `WriteFixed`, `File::read_fixed_at`,
//! `File::write_fixed_at`) and zero-copy sends (`SendZcFixed`): bytes
//! moved whole and in slices, `O_DIRECT`, a buffer of another reactor
//! refused by the kernel with `EFAULT`,
//! buffers held out of the pool until their op's last completion (a
//! dropped or forgotten future, a reactor shut down), the errors of bad
//! sizes and of a second registration, and unregistering a pool once all
//! its buffers are back.

use std::cell::Cell;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::fs::{File, OpenOptions};
use uring::reactor::ops::{ReadFixed, SendZcFixed, Write, WriteFixed};
use uring::reactor::{FixedBufPool, FixedBuffer, IoBuf, IoBufMut, Reactor, SharedFd};
use uring_tests::net::{late_reader, slow_pair};
use uring_tests::reactor::in_temp_dir;
use uring_tests::{pattern, poll_once, run_for, skip, watchdog};

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// A buffer of `pool`, filled with `bytes`.
fn filled(pool: &FixedBufPool, bytes: &[u8]) -> FixedBuffer {
    let mut buf = pool.take().expect("a free buffer");
    assert_eq!(buf.extend_from_slice(bytes), bytes.len());
    buf
}

/// `path`, created, open for reading and writing.
async fn read_write(h: &uring::reactor::Handle, path: &std::path::Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(h, path)
        .await
        .unwrap()
}

/// Runs `reactor` until `done` or 5 s pass: whether `done` came.
fn drive_until(reactor: &Reactor, done: impl Fn() -> bool) -> bool {
    uring_tests::reactor::drive_until(reactor, Duration::from_secs(5), done)
}

/// The pool lends each buffer out once, page aligned, empty, with the
/// pool's length as capacity; `take` gives `None` once all are out,
/// `take_index` `None` for one lent out or past the table; a dropped
/// buffer comes back.
#[test]
fn a_pool_lends_each_buffer_once_and_takes_it_back_at_its_drop() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(4, 5000).unwrap();
    assert_eq!((pool.len(), pool.buf_len(), pool.available()), (4, 5000, 4));
    assert!(!pool.is_empty());
    let mut bufs: Vec<FixedBuffer> = (0..4).map(|_| pool.take().unwrap()).collect();
    assert!(pool.take().is_none(), "a fifth buffer out of four");
    assert_eq!(pool.available(), 0);
    let mut indexes: Vec<u16> = bufs.iter().map(FixedBuffer::buf_index).collect();
    indexes.sort();
    assert_eq!(indexes, [0, 1, 2, 3]);
    for buf in &mut bufs {
        assert!(buf.is_empty());
        assert_eq!(
            (buf.len(), buf.capacity(), buf.bytes_total()),
            (0, 5000, 5000)
        );
        assert_eq!(buf.stable_mut_ptr() as usize % 4096, 0, "not page aligned");
    }
    let two = bufs.iter().position(|b| b.buf_index() == 2).unwrap();
    assert!(pool.take_index(2).is_none(), "buffer 2 lent twice");
    assert!(pool.take_index(4).is_none(), "a buffer past the table");
    assert!(pool.take_index(u16::MAX).is_none());
    drop(bufs.swap_remove(two));
    assert_eq!(pool.available(), 1);
    let again = pool.take_index(2).expect("buffer 2 came back");
    assert_eq!(again.buf_index(), 2);
    assert!(again.is_empty(), "a buffer lent again starts empty");
    drop(bufs);
    assert_eq!(pool.available(), 3);
    let clone = pool.clone();
    drop(again);
    assert_eq!(clone.available(), 4, "a clone is the same pool");
}

/// Bytes copied into a buffer are its data; `truncate` and `clear` shorten
/// it; `extend_from_slice` copies what fits and says how much.
#[test]
fn a_fixed_buffer_s_data_is_what_was_put_in_and_what_fits() {
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(1, 10).unwrap();
    let mut buf = pool.take().unwrap();
    assert_eq!(buf.extend_from_slice(b"abcdef"), 6);
    assert_eq!(buf.extend_from_slice(b"ghijkl"), 4, "only 4 more fit");
    assert_eq!(&buf[..], b"abcdefghij");
    assert_eq!(buf.as_bytes(), b"abcdefghij");
    buf[0] = b'A';
    buf.truncate(20);
    assert_eq!(&buf[..], b"Abcdefghij", "a longer truncate changes nothing");
    buf.truncate(3);
    assert_eq!(&buf[..], b"Abc");
    buf.clear();
    assert!(buf.is_empty());
    assert_eq!(buf.extend_from_slice(&[]), 0);
}

/// A fixed write puts a buffer's bytes in a file and a fixed read brings
/// them back, through `File` and through the ops: counts as the kernel
/// gave them, the file's bytes as std reads them, a short read at the end
/// of the file and 0 past it.
#[test]
fn fixed_writes_and_reads_move_a_file_s_bytes() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let pool = h.register_buffers(3, 8192).unwrap();
        let data = pattern(8192, 7);
        let path = dir.join("f");
        let file = read_write(&h, &path).await;
        let (n, buf) = file.write_fixed_at(filled(&pool, &data), 100).await;
        assert_eq!(n.unwrap(), 8192);
        assert_eq!(&buf[..], &data[..], "a write changed its buffer");
        drop(buf);
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(on_disk.len(), 8292);
        assert_eq!(&on_disk[..100], &[0u8; 100][..]);
        assert_eq!(&on_disk[100..], &data[..]);

        let (n, buf) = file.read_fixed_at(pool.take().unwrap(), 100).await;
        assert_eq!(n.unwrap(), 8192);
        assert_eq!(&buf[..], &data[..]);
        // A short read never shortens the data, as with a `Vec`.
        let (n, mut buf) = file.read_fixed_at(buf, 8292 - 50).await;
        assert_eq!(n.unwrap(), 50, "a short read at the end");
        assert_eq!(buf.len(), 8192);
        assert_eq!(&buf[..50], &data[8192 - 50..]);
        assert_eq!(&buf[50..], &data[50..], "bytes past the read changed");
        buf.clear();
        let (n, buf) = file.read_fixed_at(buf, 8292 - 50).await;
        assert_eq!(n.unwrap(), 50);
        assert_eq!(&buf[..], &data[8192 - 50..]);
        let (n, mut buf) = file.read_fixed_at(buf, 9000).await;
        assert_eq!(n.unwrap(), 0);
        assert_eq!(buf.len(), 50, "a read of nothing changed the data");
        buf.clear();

        // The ops themselves, on a shared descriptor.
        let fd = SharedFd::new(OwnedFd::from(std::fs::File::open(&path).unwrap()));
        let (r, buf) = h.op(ReadFixed::new(&fd, buf, 0)).await;
        assert_eq!(r.unwrap(), 8192);
        assert_eq!(&buf[100..], &data[..8092]);
        let out = SharedFd::new(OwnedFd::from(std::fs::File::create(dir.join("g")).unwrap()));
        let (r, buf) = h.op(WriteFixed::new(&out, buf, 0)).await;
        assert_eq!(r.unwrap(), 8192);
        drop(buf);
        assert_eq!(std::fs::read(dir.join("g")).unwrap(), &on_disk[..8192]);
        assert_eq!(pool.available(), 3);
    });
}

/// A `Slice` of a buffer writes its range alone; a `SliceMut` reads into
/// its range, the bytes before it kept and the data reaching as far as the
/// read did.
#[test]
fn slices_of_a_fixed_buffer_write_and_read_their_range() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let pool = h.register_buffers(2, 4096).unwrap();
        let file = read_write(&h, &dir.join("f")).await;
        let buf = filled(&pool, b"0123456789abcdefghij");
        let (n, slice) = file.write_fixed_at(buf.slice(5..12), 0).await;
        assert_eq!(n.unwrap(), 7);
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"56789ab");
        let mut buf = slice.into_inner();
        buf.truncate(4);
        let (n, slice) = file.read_fixed_at(buf.slice_mut(4..), 2).await;
        assert_eq!(n.unwrap(), 5);
        let buf = slice.into_inner();
        assert_eq!(&buf[..], b"0123789ab");
        // A range that ends before the data's end: the data's end stays.
        let (n, slice) = file.read_fixed_at(buf.slice_mut(0..2), 0).await;
        assert_eq!(n.unwrap(), 2);
        assert_eq!(&slice.into_inner()[..], b"5623789ab");
    });
}

/// A buffer is owned memory for any op of the reactor: a plain `Write`
/// takes it too.
#[test]
fn a_fixed_buffer_serves_plain_ops_too() {
    let _watch = watchdog();
    in_temp_dir(|h, _| async move {
        let pool = h.register_buffers(1, 64).unwrap();
        let (r, w) = uring_tests::pipe();
        let w = SharedFd::new(w);
        let (n, buf) = h
            .op(Write::new(&w, filled(&pool, b"through a pipe"), 0))
            .await;
        assert_eq!(n.unwrap(), 14);
        let mut got = [0u8; 14];
        std::fs::File::from(r).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"through a pipe");
        assert_eq!(&buf[..], b"through a pipe");
    });
}

/// Sixteen fixed reads in flight at once, one per buffer, each of its own
/// part of a file: every buffer gets its part.
#[test]
fn sixteen_fixed_reads_in_flight_fill_each_its_own_buffer() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let data = pattern(16 * 4096, 3);
        std::fs::write(dir.join("f"), &data).unwrap();
        let file = File::open(&h, dir.join("f")).await.unwrap();
        let pool = h.register_buffers(16, 4096).unwrap();
        let reads: Vec<_> = (0..16u64)
            .map(|i| file.read_fixed_at(pool.take().unwrap(), i * 4096))
            .collect();
        assert_eq!(pool.available(), 0);
        for (i, read) in reads.into_iter().enumerate() {
            let (n, buf) = read.await;
            assert_eq!(n.unwrap(), 4096);
            assert_eq!(&buf[..], &data[i * 4096..(i + 1) * 4096], "part {i}");
        }
        assert_eq!(pool.available(), 16);
    });
}

/// `O_DIRECT` reads and writes through page-aligned registered buffers
/// (skipped where the file system refuses `O_DIRECT`).
#[test]
fn direct_io_goes_through_fixed_buffers() {
    let _watch = watchdog();
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let path = dir.path().join("direct");
    let std_file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            uring_tests::skip(format_args!("no O_DIRECT here: {e}"));
            return;
        }
    };
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let pool = reactor.register_buffers(2, 8192).unwrap();
    let file = File::from_fd(&h, std_file);
    let data = pattern(8192, 11);
    let (w, r) = reactor
        .run_until(async {
            let (w, _) = file.write_fixed_at(filled(&pool, &data), 4096).await;
            let (r, buf) = file.read_fixed_at(pool.take().unwrap(), 4096).await;
            (w, r.map(|n| (n, buf[..].to_vec())))
        })
        .unwrap();
    if errno(&w) == Some(libc::EINVAL) {
        uring_tests::skip("the file system refused an aligned O_DIRECT write");
        return;
    }
    assert_eq!(w.unwrap(), 8192);
    let (n, got) = r.unwrap();
    assert_eq!(n, 8192);
    assert_eq!(got, data);
    let mut check = vec![0u8; 8192 + 4096];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut check)
        .unwrap();
    assert_eq!(&check[4096..], &data[..]);
}

/// A buffer of one reactor given to a fixed op of another names that
/// ring's slot of its index, which holds other memory (or no slot at
/// all): the kernel fails the op with `EFAULT`, and neither the buffer
/// nor the file changes.
#[test]
fn a_buffer_of_another_reactor_s_pool_is_efault_and_moves_nothing() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, pattern(4096, 5)).unwrap();
    let a = Reactor::new().unwrap();
    let pool_a = a.register_buffers(2, 4096).unwrap();
    let b = Reactor::new().unwrap();
    let fd = SharedFd::new(OwnedFd::from(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap(),
    ));
    for b_has_a_table in [false, true] {
        let _pool_b = b_has_a_table.then(|| b.register_buffers(2, 4096).unwrap());
        let canary = pattern(4096, 9);
        let buf = filled(&pool_a, &canary);
        let (r, buf) = b.run_until(b.op(ReadFixed::new(&fd, buf, 0))).unwrap();
        assert_eq!(errno(&r), Some(libc::EFAULT), "table in b: {b_has_a_table}");
        assert_eq!(&buf[..], &canary[..], "the refused read wrote the buffer");
        let (r, buf) = b.run_until(b.op(WriteFixed::new(&fd, buf, 0))).unwrap();
        assert_eq!(errno(&r), Some(libc::EFAULT), "table in b: {b_has_a_table}");
        assert_eq!(std::fs::read(&path).unwrap(), pattern(4096, 5));
        drop(buf);
        assert_eq!(pool_a.available(), 2);
    }
    // On its own reactor, the same buffer works.
    let (r, buf) = a
        .run_until(a.op(ReadFixed::new(&fd, pool_a.take().unwrap(), 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 4096);
    assert_eq!(&buf[..], &pattern(4096, 5)[..]);
}

/// A fixed read dropped while it waits on an empty pipe keeps its buffer
/// out of the pool until the cancel's completion has been handled; bytes
/// written after the drop stay in the pipe.
#[test]
fn a_dropped_fixed_read_keeps_its_buffer_until_its_last_completion() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(2, 64).unwrap();
    let (r, w) = uring_tests::pipe();
    let r = SharedFd::new(r);
    let mut read = reactor.op(ReadFixed::new(&r, pool.take().unwrap(), u64::MAX));
    assert!(poll_once(&mut read).is_pending());
    run_for(&reactor, 20);
    assert_eq!(reactor.in_flight(), 1, "the read did not wait");
    assert_eq!(pool.available(), 1);
    drop(read);
    assert_eq!(pool.available(), 1, "the buffer came back under the kernel");
    assert!(drive_until(&reactor, || reactor.in_flight() == 0));
    assert_eq!(pool.available(), 2, "the buffer never came back");
    let mut w = std::fs::File::from(w);
    w.write_all(b"after").unwrap();
    drop(w);
    let mut rest = Vec::new();
    std::fs::File::from(r.as_fd().try_clone_to_owned().unwrap())
        .read_to_end(&mut rest)
        .unwrap();
    assert_eq!(rest, b"after", "the dropped read took bytes");
}

/// A forgotten fixed read keeps its buffer out of the pool for good: the
/// reactor's drop cancels the read and waits for it, and the buffer stays
/// leaked with the forgotten future (which could still be polled, were it
/// only stored away). Buffers lent out outlive the reactor and the pool,
/// as owned memory.
#[test]
fn forgotten_reads_and_buffers_outlive_the_reactor_soundly() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(3, 64).unwrap();
    let (r, _w) = uring_tests::pipe();
    let r = SharedFd::new(r);
    let mut read = reactor.op(ReadFixed::new(&r, pool.take().unwrap(), u64::MAX));
    assert!(poll_once(&mut read).is_pending());
    std::mem::forget(read);
    run_for(&reactor, 10);
    assert_eq!(pool.available(), 2);
    let mut kept = filled(&pool, b"kept");
    drop(reactor);
    assert_eq!(pool.available(), 1, "the forgotten read's buffer came back");
    drop(pool);
    kept.extend_from_slice(b" after both");
    assert_eq!(&kept[..], b"kept after both");
}

/// Bad sizes are `InvalidInput`; a second registration `AlreadyExists`;
/// a reactor over a ring with a table of its own gets the kernel's
/// `EBUSY`; a shut-down reactor refuses.
#[test]
fn bad_sizes_and_second_tables_are_error_values() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    for (count, len) in [(0u16, 4096usize), (4, 0), (16385, 4096), (1, (1 << 30) + 1)] {
        let e = reactor.register_buffers(count, len).unwrap_err();
        assert_eq!(
            e.kind(),
            io::ErrorKind::InvalidInput,
            "{count} x {len}: {e}"
        );
    }
    let _pool = reactor.register_buffers(1, 4096).unwrap();
    let e = reactor.register_buffers(1, 4096).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);

    let mut ring = uring::Ring::new(8).unwrap();
    let memory: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
    // SAFETY: the memory is leaked: it stays allocated for the ring's life
    // and the program never touches it again.
    let table = unsafe { ring.register_buffers(&[io::IoSliceMut::new(memory)]) }.unwrap();
    drop(table);
    let other = Reactor::from_ring(ring).unwrap();
    let e = other.register_buffers(1, 4096).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}");

    let closed = Reactor::new().unwrap();
    closed.shutdown();
    assert!(closed.register_buffers(1, 4096).is_err());
}

/// `unregister_buffers` takes the pool back only once nothing else holds
/// its table: a buffer lent out, another clone of the pool, and a buffer
/// inside a read in flight each make it `ResourceBusy`, with the pool
/// handed back whole. Once all are gone it unregisters the kernel's table:
/// a new one of another shape registers (the kernel would refuse it with
/// `EBUSY` while the old one stood) and serves a fixed read.
#[test]
fn a_pool_is_unregistered_only_once_every_buffer_is_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(2, 4096).unwrap();
    let busy = |r: Result<(), (io::Error, FixedBufPool)>, what: &str| -> FixedBufPool {
        let (e, pool) = r.expect_err(what);
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{what}: {e}");
        assert_eq!((pool.len(), pool.buf_len()), (2, 4096), "{what}");
        pool
    };
    let lent = pool.take().unwrap();
    let pool = busy(reactor.unregister_buffers(pool), "a buffer lent out");
    drop(lent);
    let clone = pool.clone();
    let pool = busy(reactor.unregister_buffers(pool), "a clone of the pool");
    drop(clone);

    let (r, w) = uring_tests::pipe();
    let r = SharedFd::new(r);
    let mut read = reactor.op(ReadFixed::new(&r, pool.take().unwrap(), 0));
    assert!(poll_once(&mut read).is_pending());
    run_for(&reactor, 10);
    assert_eq!(reactor.in_flight(), 1, "the read did not wait");
    let pool = busy(reactor.unregister_buffers(pool), "a read in flight");
    std::fs::File::from(w).write_all(b"fixed").unwrap();
    let (n, buf) = reactor.run_until(read).unwrap();
    assert_eq!(n.unwrap(), 5);
    assert_eq!(&buf[..], b"fixed");
    drop(buf);
    assert_eq!(pool.available(), 2);
    reactor.unregister_buffers(pool).unwrap();

    let pool = reactor.register_buffers(3, 8192).unwrap();
    assert_eq!((pool.len(), pool.buf_len()), (3, 8192));
    let data = pattern(8192, 9);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, &data).unwrap();
    let file = SharedFd::new(std::fs::File::open(&path).unwrap());
    let (n, buf) = reactor
        .run_until(reactor.op(ReadFixed::new(&file, pool.take().unwrap(), 0)))
        .unwrap();
    assert_eq!(n.unwrap(), 8192);
    assert_eq!(&buf[..], &data[..]);
}

/// A reactor with no table refuses to unregister a pool (`NotFound`), and
/// one with a table of its own refuses another reactor's pool
/// (`InvalidInput`); each hands the pool back, which still lends its
/// buffers and is unregistered by its own reactor.
#[test]
fn pools_of_other_reactors_are_refused_and_handed_back() {
    let _watch = watchdog();
    let mine = Reactor::new().unwrap();
    let other = Reactor::new().unwrap();
    let pool = mine.register_buffers(1, 4096).unwrap();
    let (e, pool) = other.unregister_buffers(pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let theirs = other.register_buffers(1, 4096).unwrap();
    let (e, pool) = other.unregister_buffers(pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    let buf = filled(&pool, b"still mine");
    assert_eq!(&buf[..], b"still mine");
    drop(buf);
    mine.unregister_buffers(pool).unwrap();
    other.unregister_buffers(theirs).unwrap();
}

/// Whether a zero-copy send's result says this kernel or socket has none
/// (printed as a skip).
fn no_zero_copy(r: &io::Result<u32>) -> bool {
    if matches!(errno(r), Some(libc::EINVAL | libc::EOPNOTSUPP)) {
        skip(format_args!("no zero-copy sends: {r:?}"));
        return true;
    }
    false
}

/// A zero-copy send of a registered buffer (`SEND_ZC` with
/// `IORING_RECVSEND_FIXED_BUF`) to a peer that reads only after 200 ms: its
/// bytes wait in the socket, pinned, until the peer takes them, so the op
/// completes (with the byte count, and the buffer) only after that, when
/// the kernel's notification says it is done with the pages. Meanwhile the
/// buffer is lent out, so the pool cannot be unregistered; the callback
/// overwrites the buffer at once, and the peer reads the bytes as they
/// were sent, every one.
#[test]
fn a_zero_copy_send_of_a_fixed_buffer_gives_it_back_at_the_notification() {
    let _watch = watchdog();
    const LEN: usize = 1 << 20;
    const CANARY: u8 = 0xC3;
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(1, LEN).unwrap();
    let sent = pattern(LEN, 17);
    let buf = filled(&pool, &sent);
    let (client, server) = slow_pair();
    let fd = SharedFd::new(client);
    let delay = Duration::from_millis(200);
    // The clock first: the peer reads no sooner than `delay` after it.
    let start = Instant::now();
    let reader = late_reader(server, delay);
    let result: Rc<Cell<Option<io::Result<u32>>>> = Rc::default();
    let calls = Rc::new(Cell::new(0));
    let (res, n) = (result.clone(), calls.clone());
    reactor
        .queue(SendZcFixed::new(&fd, buf), move |r, mut buf| {
            n.set(n.get() + 1);
            buf.fill(CANARY);
            res.set(Some(r));
        })
        .unwrap();
    run_for(&reactor, 50);
    if let Some(r) = result.take() {
        if no_zero_copy(&r) {
            return;
        }
        panic!("the send completed before the peer read anything: {r:?}");
    }
    assert_eq!(calls.get(), 0);
    let (e, pool) = reactor
        .unregister_buffers(pool)
        .expect_err("a buffer is lent to the send");
    assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
    assert!(drive_until(&reactor, || calls.get() == 1), "no completion");
    let returned_after = start.elapsed();
    let r = result.take().unwrap();
    if no_zero_copy(&r) {
        return;
    }
    assert_eq!(r.unwrap(), LEN as u32);
    assert!(
        returned_after >= delay,
        "the buffer came back after {returned_after:?}, before the peer read: before the \
         notification"
    );
    assert_eq!(reactor.in_flight(), 0);
    drop(fd);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), LEN, "the peer got other than what was sent");
    assert!(got == sent, "the peer got bytes other than those sent");
    assert_eq!(calls.get(), 1);
    // Every buffer is back: the pool goes.
    assert_eq!(pool.available(), 1);
    reactor
        .unregister_buffers(pool)
        .map_err(|(e, _)| e)
        .unwrap();
}

/// A zero-copy send of part of a registered buffer sends that part alone;
/// one of a buffer of another reactor's pool names a slot of the wrong
/// table and fails with `EFAULT`, sending nothing, whether that reactor
/// has a table or not.
#[test]
fn zero_copy_sends_of_fixed_slices_and_of_other_reactors_buffers() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let pool_a = a.register_buffers(2, 4096).unwrap();
    let b = Reactor::new().unwrap();
    let (client, mut server) = slow_pair();
    let fd = SharedFd::new(client);
    let bytes = pattern(4096, 23);
    let buf = filled(&pool_a, &bytes);
    let (r, buf) = a
        .run_until(a.op(SendZcFixed::new(&fd, buf.slice(100..300))))
        .unwrap();
    if no_zero_copy(&r) {
        return;
    }
    assert_eq!(r.unwrap(), 200);
    assert_eq!((buf.begin(), buf.end()), (100, 300));
    let mut got = [0u8; 200];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got[..], bytes[100..300]);
    let mut buf = buf.into_inner();
    server.set_nonblocking(true).unwrap();
    for b_has_a_table in [false, true] {
        let _pool_b = b_has_a_table.then(|| b.register_buffers(2, 4096).unwrap());
        let (r, back) = b.run_until(b.op(SendZcFixed::new(&fd, buf))).unwrap();
        assert_eq!(errno(&r), Some(libc::EFAULT), "table in b: {b_has_a_table}");
        assert_eq!(back[..], bytes[..]);
        assert_eq!(b.in_flight(), 0);
        buf = back;
    }
    assert_eq!(
        server.read(&mut got).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "the refused sends sent something"
    );
    drop(buf);
    assert_eq!(pool_a.available(), 2);
}
