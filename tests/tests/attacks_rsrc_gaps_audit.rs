//! Registered buffers attacked where the other suites stop: fixed-buffer
//! ops pushed (and even submitted, behind a link) before their slot is
//! updated or unregistered, which the kernel resolves only when it issues
//! them; a buffer's tag held back by several ops at once; updates the
//! kernel stops half-way through a bad buffer; zero-length buffers; the
//! edges of a registered buffer for every fixed read and write form, with
//! canaries on both sides, a zero-length iovec and a vectored write whose
//! total passes `MAX_RW_COUNT`; clones from rings the kernel cannot name
//! or that belong to another thread's single issuer.
//!
//! Read against Linux 6.18: `io_uring/rsrc.c` (`io_find_buf_node`, which
//! looks the slot up when the op is issued, not when it is prepared, and
//! pins the node from then on; `io_import_reg_buf`, `validate_fixed_range`,
//! `io_vec_fill_bvec` with its refusal of an empty iovec and its
//! `MAX_RW_COUNT` check; `io_sqe_buffer_register` and
//! `io_validate_user_buf_range`, which refuse a zero-length buffer with
//! `EFAULT`; `__io_sqe_buffers_update`, which returns the count done
//! before a failure; `io_free_rsrc_node`, which posts the tag when the
//! node's last reference goes; `io_register_clone_buffers`, which names
//! the source by descriptor and refuses another task's single-issuer
//! source with `EEXIST`), `io_uring/rw.c` (`io_init_rw_fixed`, called from
//! `io_read_fixed` / `io_write_fixed` at issue) and
//! `include/uapi/linux/io_uring.h`.
//!
//! Each test checks what the kernel did: results and errnos, which tags
//! came and in which order, and canary bytes around every buffer.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use uring::ops::{Read, ReadFixed, ReadVFixed, WriteFixed, WriteVFixed};
use uring::{Builder, Error, Features, Ring};
use uring_tests::{
    complete, pattern, push_lent, require_features, require_kernel, require_op, skip, watchdog,
};

/// A ring of 16 entries whose kernel has resource tags; `None` (skipped)
/// otherwise.
fn tagged_ring() -> Option<Ring> {
    let ring = Ring::new(16).unwrap();
    require_features(&ring, Features::RSRC_TAGS, "resource tags").then_some(ring)
}

/// The completions that arrive until none has for `quiet`, at least `n` of
/// them (waiting [`PATIENCE`] at most), as `(user_data, res)` in CQ order.
fn reap(ring: &mut Ring, n: usize, quiet: Duration) -> Vec<(u64, i32)> {
    uring_tests::drain_until_quiet(ring, n, quiet)
}

/// A short wait that shows nothing is pending.
const QUIET: Duration = Duration::from_millis(50);

/// Writes `bytes` into the pipe's write end.
fn feed(tx: &OwnedFd, bytes: &[u8]) {
    let mut file = File::from(tx.try_clone().unwrap());
    file.write_all(bytes).unwrap();
}

/// A file holding `bytes` at offset 0.
fn file_of(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// The errno of a library error, if it carries one.
fn errno<T: std::fmt::Debug>(r: &uring::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(Error::raw_os_error)
}

const CANARY: u8 = 0xA5;

/// Completions as `(user_data, res)`.
type Pairs = Vec<(u64, i32)>;

// ---------------------------------------------------------------------------
// Ops pushed before their slot changes.
// ---------------------------------------------------------------------------

/// What a fixed read pushed before `update_buffers` does, run on a chain
/// that the kernel has taken (submitted) but not yet issued: a pipe read
/// heads it, and the `ReadFixed` into the old buffer of slot 0 waits behind
/// it. Returns what came before the pipe was fed (tags), the completions
/// after, and whether the old buffer holds the file's bytes.
fn fixed_read_linked_behind_an_update(ring: &mut Ring) -> (Pairs, Pairs, bool) {
    let content = pattern(16, 7);
    let file = file_of(&content);
    let mut old = vec![CANARY; 4096];
    let mut new = vec![CANARY; 4096];
    // SAFETY: both vectors outlive every op that names them (each is
    // reaped below) and the ring, dropped before them by the caller's
    // return; nothing else touches them while an op is in flight.
    let table =
        unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut old)], &[0xA]) }.unwrap();
    let (rx, tx) = uring_tests::pipe();
    let mut head = [0u8; 4];
    let chain = Read::new(&rx, &mut head)
        .user_data(1)
        .link(ReadFixed::new(&file, &mut old[..16], table.get(0).unwrap()).user_data(2));
    push_lent!(ring, chain).unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    // SAFETY: `new` outlives the ring as above; `old` stays valid until the
    // chain is reaped whatever the kernel does with it.
    let n = unsafe {
        ring.update_buffers_tagged(&table, 0, &[Some(IoSliceMut::new(&mut new))], &[0xB])
    }
    .unwrap();
    assert_eq!(n, 1);
    let early = reap(ring, 0, QUIET);
    feed(&tx, b"head");
    let rest = reap(ring, 2, QUIET);
    let filled = old[..16] == content[..];
    assert!(
        new.iter().all(|&b| b == CANARY),
        "the new buffer was written"
    );
    ring.unregister_buffers(table).unwrap();
    let _ = reap(ring, 0, QUIET);
    (early, rest, filled)
}

/// What Linux 6.18 does with ops pushed before the slot changes (as
/// `update_buffers` documents it; its docs once promised such ops the old
/// buffer): the old
/// buffer's tag comes at the update, before a read submitted earlier but
/// linked behind a pending op runs; that read then fails with `EFAULT`
/// and writes nothing into the old buffer (nor the new one). The same for
/// a read pushed and not submitted, and for one pushed before
/// `unregister_buffers`. So the old memory is free at its tag, whatever
/// was pushed before.
#[test]
fn ops_pushed_before_their_slot_changes_meet_the_new_slot_at_issue() {
    let _watch = watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    // Submitted, linked behind a pipe read.
    let (early, rest, filled) = fixed_read_linked_behind_an_update(&mut ring);
    assert_eq!(
        early,
        [(0xA, 0)],
        "the old buffer's tag comes at the update"
    );
    assert_eq!(rest, [(1, 4), (2, -libc::EFAULT)], "then the chain");
    assert!(!filled, "nothing was read into the old buffer");

    // Pushed, not submitted, then the slot is updated.
    let content = pattern(16, 9);
    let file = file_of(&content);
    let mut old = vec![CANARY; 4096];
    let mut new = vec![CANARY; 4096];
    // SAFETY: both vectors outlive the ring's ops, each reaped below, and
    // the ring, which is dropped before them.
    let table =
        unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut old)], &[0xC]) }.unwrap();
    push_lent!(
        ring,
        ReadFixed::new(&file, &mut old[..16], table.get(0).unwrap()).user_data(3)
    )
    .unwrap();
    // SAFETY: as above.
    let n = unsafe {
        ring.update_buffers_tagged(&table, 0, &[Some(IoSliceMut::new(&mut new))], &[0xD])
    }
    .unwrap();
    assert_eq!(n, 1);
    let got = reap(&mut ring, 2, QUIET);
    assert_eq!(
        got,
        [(0xC, 0), (3, -libc::EFAULT)],
        "tag first, then the read fails"
    );
    assert!(
        old.iter().all(|&b| b == CANARY),
        "the old buffer was written"
    );
    assert!(
        new.iter().all(|&b| b == CANARY),
        "the new buffer was written"
    );

    // Pushed, not submitted, then the table is unregistered.
    push_lent!(
        ring,
        ReadFixed::new(&file, &mut new[..16], table.get(0).unwrap()).user_data(4)
    )
    .unwrap();
    ring.unregister_buffers(table).unwrap();
    let got = reap(&mut ring, 2, QUIET);
    assert_eq!(got, [(0xD, 0), (4, -libc::EFAULT)]);
    assert!(
        new.iter().all(|&b| b == CANARY),
        "the unregistered buffer was written"
    );
    drop(ring);
    drop((old, new));
}

// ---------------------------------------------------------------------------
// Tags held back by several ops.
// ---------------------------------------------------------------------------

/// Two reads in flight over two parts of one tagged buffer, the table
/// unregistered under them: the tag waits for the last of the two, not
/// the first, and comes once, after it. Each read wrote only its own part.
#[test]
fn a_tag_waits_for_the_last_of_several_ops_that_hold_the_buffer() {
    let _watch = watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let mut mem = vec![CANARY; 4096];
    // SAFETY: `mem` outlives both reads (reaped below) and the ring.
    let table =
        unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut mem)], &[0x77]) }.unwrap();
    let index = table.get(0).unwrap();
    let (rx1, tx1) = uring_tests::pipe();
    let (rx2, tx2) = uring_tests::pipe();
    let (first, rest) = mem.split_at_mut(64);
    let (_, second) = rest.split_at_mut(64);
    push_lent!(
        ring,
        ReadFixed::new(&rx1, &mut first[..8], index).user_data(1)
    )
    .unwrap();
    push_lent!(
        ring,
        ReadFixed::new(&rx2, &mut second[..8], index).user_data(2)
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    ring.unregister_buffers(table).unwrap();
    assert_eq!(
        reap(&mut ring, 0, QUIET),
        [],
        "no tag while both reads hold it"
    );
    feed(&tx2, b"22222222");
    assert_eq!(
        reap(&mut ring, 1, QUIET),
        [(2, 8)],
        "one read done, the other still holds the buffer"
    );
    feed(&tx1, b"11111111");
    assert_eq!(
        reap(&mut ring, 2, QUIET),
        [(1, 8), (0x77, 0)],
        "the last read, then the tag"
    );
    assert_eq!(&mem[..8], b"11111111");
    assert_eq!(&mem[128..136], b"22222222");
    assert!(mem[8..128].iter().all(|&b| b == CANARY));
    assert!(mem[136..].iter().all(|&b| b == CANARY));
    drop(ring);
    drop(mem);
}

// ---------------------------------------------------------------------------
// Updates and registrations the kernel stops.
// ---------------------------------------------------------------------------

/// An update whose second buffer has no bytes stops there
/// (`__io_sqe_buffers_update` returns the count done): `update_buffers`
/// reports 1, the first slot has its new buffer (its old tag comes), the
/// second keeps its old one (no tag, and a read through it still lands
/// there), the refused buffer's tag is never posted. An update whose
/// first buffer has no bytes changes nothing and fails with `EFAULT`. A
/// zero-length `Some` is not an empty slot: registering one fails too.
#[test]
fn an_update_stopped_by_an_empty_buffer_reports_the_slots_it_changed() {
    let _watch = watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let mut a = vec![CANARY; 4096];
    let mut b = vec![CANARY; 4096];
    let mut c = vec![CANARY; 4096];
    let mut d = vec![CANARY; 4096];
    // SAFETY: every vector outlives the ring (dropped first) and the
    // reads below, each completed before it returns.
    let table = unsafe {
        ring.register_buffers_tagged(&[IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)], &[1, 2])
    }
    .unwrap();
    // SAFETY: as above; the empty slice registers no byte.
    let n = unsafe {
        ring.update_buffers_tagged(
            &table,
            0,
            &[
                Some(IoSliceMut::new(&mut c)),
                Some(IoSliceMut::new(&mut d[..0])),
            ],
            &[3, 4],
        )
    };
    assert_eq!(n.as_ref().ok(), Some(&1), "{n:?}");
    assert_eq!(reap(&mut ring, 1, QUIET), [(1, 0)], "only slot 0's old tag");
    let file = file_of(b"slot bytes");
    // Slot 0 is `c` now, slot 1 still `b`.
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut c[..10], table.get(0).unwrap()),
    );
    assert_eq!(cqe.res(), 10);
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut b[..10], table.get(1).unwrap()),
    );
    assert_eq!(cqe.res(), 10);
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut a[..10], table.get(0).unwrap()),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "slot 0 no longer holds `a`");
    assert_eq!(&c[..10], b"slot bytes");
    assert_eq!(&b[..10], b"slot bytes");
    assert!(a.iter().all(|&x| x == CANARY));
    // A first buffer with no bytes: nothing changes.
    // SAFETY: as above.
    let r = unsafe {
        ring.update_buffers_tagged(
            &table,
            0,
            &[
                Some(IoSliceMut::new(&mut d[..0])),
                Some(IoSliceMut::new(&mut a)),
            ],
            &[5, 6],
        )
    };
    assert_eq!(errno(&r), Some(libc::EFAULT), "{r:?}");
    assert_eq!(
        reap(&mut ring, 0, QUIET),
        [],
        "no tag for an update that did nothing"
    );
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut b[10..20], table.get(1).unwrap()),
    );
    assert_eq!(cqe.res(), 10, "slot 1 still holds `b`");
    ring.unregister_buffers(table).unwrap();
    let mut tags: Vec<(u64, i32)> = reap(&mut ring, 2, QUIET);
    tags.sort_unstable();
    assert_eq!(
        tags,
        [(2, 0), (3, 0)],
        "the tags of what the table held, once"
    );
    // Registering a zero-length buffer: refused, no table left behind.
    // SAFETY: the empty slice registers no byte.
    let r = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut d[..0])]) };
    assert_eq!(errno(&r), Some(libc::EFAULT), "{r:?}");
    // SAFETY: as above.
    let r = unsafe { ring.register_buffer_slots(&[None, Some(IoSliceMut::new(&mut d[..0]))]) };
    assert_eq!(errno(&r), Some(libc::EFAULT), "{r:?}");
    let sparse = ring
        .register_buffers_sparse(2)
        .expect("no table was left behind");
    ring.unregister_buffers(sparse).unwrap();
    assert_eq!(reap(&mut ring, 0, QUIET), []);
    drop(ring);
    drop((a, b, c, d));
}

// ---------------------------------------------------------------------------
// The edges of a registered buffer.
// ---------------------------------------------------------------------------

/// A registered buffer of 4096 bytes inside a vector with 64 canary bytes
/// on each side, and every fixed read and write form (`ReadFixed`,
/// `WriteFixed`, `ReadVFixed`, `WriteVFixed`) in a scope at its edges: a
/// slice starting a byte before it or ending a byte past it fails with
/// `EFAULT` and moves nothing; the whole buffer and a zero-length slice
/// inside it succeed; the dangling address of an empty slice of no buffer
/// fails; a vectored read with one iovec inside and one outside writes
/// neither; a vectored read with an empty iovec among full ones fails
/// (`io_vec_fill_bvec`), where `ReadFixed` of an empty slice succeeds.
#[test]
fn every_fixed_form_stops_at_the_registered_buffer_s_edges() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let vectored = require_op::<ReadVFixed<'_, '_>>(&ring);
    const PAD: usize = 64;
    const LEN: usize = 4096;
    let mut mem = vec![CANARY; PAD + LEN + PAD];
    // SAFETY: `mem` outlives the ring, which is dropped first; the ops
    // below run in scopes, which end only after their completions.
    let table =
        unsafe { ring.register_buffers(&[IoSliceMut::new(&mut mem[PAD..PAD + LEN])]) }.unwrap();
    let index = table.get(0).unwrap();
    let content = pattern(LEN + 2 * PAD, 3);
    let file = file_of(&content);
    let sink = tempfile::tempfile().unwrap();
    let canaries_whole = |mem: &[u8]| {
        mem[..PAD].iter().all(|&b| b == CANARY) && mem[PAD + LEN..].iter().all(|&b| b == CANARY)
    };

    for (what, range) in [
        ("a byte before", PAD - 1..PAD + 15),
        ("a byte past", PAD + LEN - 15..PAD + LEN + 1),
        ("all and both sides", 0..PAD + LEN + PAD),
    ] {
        let res = complete(
            &mut ring,
            ReadFixed::new(&file, &mut mem[range.clone()], index),
        )
        .res();
        assert_eq!(res, -libc::EFAULT, "read {what}");
        let res = complete(
            &mut ring,
            WriteFixed::new(&sink, &mem[range.clone()], index),
        )
        .res();
        assert_eq!(res, -libc::EFAULT, "write {what}");
        if vectored {
            let mut iov = [IoSliceMut::new(&mut mem[range.clone()])];
            let res = complete(&mut ring, ReadVFixed::new(&file, &mut iov[..], index)).res();
            assert_eq!(res, -libc::EFAULT, "readv {what}");
            let iov = [IoSlice::new(&mem[range.clone()])];
            let res = complete(&mut ring, WriteVFixed::new(&sink, &iov[..], index)).res();
            assert_eq!(res, -libc::EFAULT, "writev {what}");
        }
        assert!(
            mem[PAD..PAD + LEN].iter().all(|&b| b == CANARY) && canaries_whole(&mem),
            "{what}: bytes moved"
        );
    }
    assert_eq!(sink.metadata().unwrap().len(), 0, "nothing was written out");

    // An empty slice: inside the buffer it is a read of nothing; the
    // dangling address of `&mut []` lies in no buffer.
    let res = complete(
        &mut ring,
        ReadFixed::new(&file, &mut mem[PAD + 100..PAD + 100], index),
    )
    .res();
    assert_eq!(res, 0);
    let res = complete(&mut ring, ReadFixed::new(&file, &mut [][..], index)).res();
    assert_eq!(res, -libc::EFAULT);

    if vectored {
        // One iovec inside, one a byte past: neither is written.
        let (inside, rest) = mem[PAD..].split_at_mut(16);
        let past = &mut rest[LEN - 16 - 8..LEN - 16 + 8];
        let mut iov = [IoSliceMut::new(inside), IoSliceMut::new(past)];
        let res = complete(&mut ring, ReadVFixed::new(&file, &mut iov[..], index)).res();
        assert_eq!(res, -libc::EFAULT);
        assert!(mem.iter().all(|&b| b == CANARY), "a refused readv wrote");
        // An empty iovec between full ones, all inside.
        let (one, rest) = mem[PAD..PAD + LEN].split_at_mut(16);
        let (empty, rest) = rest.split_at_mut(0);
        let mut iov = [
            IoSliceMut::new(one),
            IoSliceMut::new(empty),
            IoSliceMut::new(&mut rest[..16]),
        ];
        let res = complete(&mut ring, ReadVFixed::new(&file, &mut iov[..], index)).res();
        assert_eq!(res, -libc::EFAULT, "an empty iovec in a fixed readv");
        assert!(mem.iter().all(|&b| b == CANARY), "a refused readv wrote");
    }

    // The whole buffer, exactly.
    let res = complete(
        &mut ring,
        ReadFixed::new(&file, &mut mem[PAD..PAD + LEN], index),
    )
    .res();
    assert_eq!(res, LEN as i32);
    assert_eq!(&mem[PAD..PAD + LEN], &content[..LEN]);
    assert!(canaries_whole(&mem));
    let res = complete(
        &mut ring,
        WriteFixed::new(&sink, &mem[PAD..PAD + LEN], index),
    )
    .res();
    assert_eq!(res, LEN as i32);
    drop(ring);
    drop(mem);
}

/// A vectored fixed write whose iovecs (the same registered bytes, lent
/// shared 1024 times) add up to 2 GiB, past `MAX_RW_COUNT`: Linux 6.18
/// refuses it whole, where a plain `writev(2)` of as much writes
/// `MAX_RW_COUNT` bytes and returns short. Over pages of 4 KiB the
/// refusal is `ENOMEM` (`io_import_reg_vec` sizes a bvec array of 514
/// entries per iovec, past what `kmalloc` gives) before the `EINVAL` of
/// the length check in `io_vec_fill_bvec`. Nothing is written; the same
/// count of 4 KiB iovecs is written whole.
#[test]
fn a_vectored_fixed_write_past_max_rw_count_is_refused_whole() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WriteVFixed<'_, '_>>(&ring) {
        return;
    }
    const LEN: usize = 2 << 20;
    let mut mem = vec![7u8; LEN];
    // SAFETY: `mem` outlives the ring, dropped first; the write runs in a
    // scope that ends after its completion, and only reads the bytes.
    let table = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut mem)]) }.unwrap();
    let sink = tempfile::tempfile().unwrap();
    let iov = vec![IoSlice::new(&mem); 1024];
    let res = complete(
        &mut ring,
        WriteVFixed::new(&sink, &iov[..], table.get(0).unwrap()),
    )
    .res();
    assert!(
        res == -libc::ENOMEM || res == -libc::EINVAL,
        "2 GiB in one vectored fixed write: {res}"
    );
    assert_eq!(sink.metadata().unwrap().len(), 0);
    // 4 MiB in as many iovecs is written whole.
    let iov = vec![IoSlice::new(&mem[..4096]); 1024];
    let res = complete(
        &mut ring,
        WriteVFixed::new(&sink, &iov[..], table.get(0).unwrap()),
    )
    .res();
    assert_eq!(res, 4096 * 1024);
    drop(iov);
    drop(ring);
    drop(mem);
}

// ---------------------------------------------------------------------------
// Clones from rings the kernel cannot name, or that another thread owns.
// ---------------------------------------------------------------------------

/// `clone_buffers` names its source by descriptor: a source with none
/// (`registered_fd_only`) is refused (`EBADF`; the library never passes
/// `IORING_REGISTER_SRC_REGISTERED`), and the destination is left without
/// a table. A destination with no descriptor clones through its
/// registered index. A single-issuer source whose issuer is another
/// thread is refused with `EEXIST`, the destination again left without a
/// table. Each refusal is a value, never a panic.
#[test]
fn clones_from_a_ring_without_a_descriptor_or_of_another_thread_s_single_issuer() {
    let _watch = watchdog();
    if !require_kernel(6, 12, "IORING_REGISTER_CLONE_BUFFERS") {
        return;
    }
    let mut mem = vec![0u8; 4096];
    let file = file_of(b"cloned!");
    let mut dst = Ring::new(4).unwrap();

    // A source with no descriptor.
    match Builder::new().registered_fd_only().build(4) {
        Ok(mut src) => {
            // SAFETY: `mem` outlives both rings, dropped before it; only
            // the reads below, completed in scopes, use it.
            let table = unsafe { src.register_buffers(&[IoSliceMut::new(&mut mem)]) }.unwrap();
            // SAFETY: as above.
            let r = unsafe { dst.clone_buffers(&src, &table, 0, 1) };
            assert_eq!(errno(&r), Some(libc::EBADF), "{r:?}");
            let probe = dst
                .register_buffers_sparse(1)
                .expect("no table after a refused clone");
            dst.unregister_buffers(probe).unwrap();
            // The other way round: into the ring with no descriptor.
            let mut src2 = Ring::new(4).unwrap();
            let mut mem2 = vec![0u8; 4096];
            // SAFETY: `mem2` outlives `src2` and `src`, dropped below
            // before it.
            let t2 = unsafe { src2.register_buffers(&[IoSliceMut::new(&mut mem2)]) }.unwrap();
            src.unregister_buffers(table).unwrap();
            // SAFETY: as above.
            let cloned = unsafe { src.clone_buffers(&src2, &t2, 0, 1) }.unwrap();
            let cqe = complete(
                &mut src,
                ReadFixed::new(&file, &mut mem2[..7], cloned.get(0).unwrap()),
            );
            assert_eq!(cqe.res(), 7);
            assert_eq!(&mem2[..7], b"cloned!");
            drop(src);
            drop(src2);
            drop(mem2);
        }
        Err(e) => skip(format_args!("registered_fd_only: {e}")),
    }

    // A single-issuer source whose issuer is another thread: built and
    // given a table of empty slots there, then moved here.
    let built = std::thread::spawn(|| {
        let mut src = Builder::new().single_issuer().build(4)?;
        let table = src.register_buffers_sparse(1)?;
        Ok::<_, Error>((src, table))
    })
    .join()
    .unwrap();
    match built {
        Ok((src, table)) => {
            // SAFETY: the source's table holds only empty slots: nothing
            // is lent.
            let r = unsafe { dst.clone_buffers(&src, &table, 0, 1) };
            assert_eq!(errno(&r), Some(libc::EEXIST), "{r:?}");
            let probe = dst
                .register_buffers_sparse(1)
                .expect("no table after a refused clone");
            dst.unregister_buffers(probe).unwrap();
            drop(src);
        }
        Err(e) => skip(format_args!("single_issuer: {e}")),
    }
    drop(dst);
    drop(mem);
}
