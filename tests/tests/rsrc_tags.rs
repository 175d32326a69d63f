//! Resource tags: a registered file or buffer with a tag makes the kernel
//! post a completion carrying the tag once it no longer uses that file or
//! buffer; and such completions, whose `user_data` the program chose, never
//! stand in for a scope op's.

use std::collections::BTreeSet;
use std::io::IoSliceMut;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{Close, PollAdd, ReadFixed, Recv};
use uring::{Error, Features, PollEvents, Ring, SlotUpdate};
use uring_tests::{push_lent, require_features};

/// A ring whose kernel has resource tags (5.13); `None`, with a skip
/// message, otherwise.
fn tagged_ring() -> Option<Ring> {
    let ring = Ring::new(8).unwrap();
    require_features(&ring, Features::RSRC_TAGS, "resource tags").then_some(ring)
}

/// The completions that arrive within `wait` (at least `n` of them, or
/// what came by then), as `(user_data, res)`.
fn reap(ring: &mut Ring, n: u32, wait: Duration) -> Vec<(u64, i32)> {
    let _ = ring.submit_and_wait_timeout(n, wait);
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// Whether a completion arrives within a short while.
fn nothing_posted(ring: &mut Ring) -> bool {
    reap(ring, 1, Duration::from_millis(30)).is_empty()
}

#[test]
fn a_file_s_tag_is_posted_once_its_slot_is_updated() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let (rx, _tx) = uring_tests::pipe();
    let mut files = ring
        .register_files_tagged(&[(rx.as_fd(), 1), (rx.as_fd(), 2), (rx.as_fd(), 3)])
        .unwrap();
    assert!(nothing_posted(&mut ring), "no tag before an update");
    // Slot 0 takes the file again with a new tag: the old one is posted.
    let n = ring
        .update_file_slots(&mut files, 0, &[SlotUpdate::Tagged(rx.as_fd(), 666)])
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(reap(&mut ring, 1, uring_tests::PATIENCE), [(1, 0)]);
    // Taken again untagged: the new tag is posted.
    ring.update_file_slots(&mut files, 0, &[SlotUpdate::Set(rx.as_fd())])
        .unwrap();
    assert_eq!(reap(&mut ring, 1, uring_tests::PATIENCE), [(666, 0)]);
    // An untagged file posts nothing when it goes; a kept slot keeps its tag.
    ring.update_file_slots(&mut files, 0, &[SlotUpdate::Empty, SlotUpdate::Keep])
        .unwrap();
    assert!(nothing_posted(&mut ring), "a tag of 0 is posted");
    // The unregistration posts the tags of the files still there.
    ring.unregister_files(files).unwrap();
    let mut tags: Vec<_> = reap(&mut ring, 2, uring_tests::PATIENCE);
    tags.sort();
    assert_eq!(tags, [(2, 0), (3, 0)]);
    assert!(nothing_posted(&mut ring), "each tag is posted once");
}

#[test]
fn a_file_s_tag_waits_for_the_ops_that_use_it() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let (rx, tx) = uring_tests::pipe();
    let mut files = ring.register_files_tagged(&[(rx.as_fd(), 7)]).unwrap();
    // A poll on the slot's file holds it while it waits.
    push_lent!(
        ring,
        PollAdd::new(files.get(0).unwrap(), PollEvents::IN).user_data(9)
    )
    .unwrap();
    ring.submit().unwrap();
    ring.update_file_slots(&mut files, 0, &[SlotUpdate::Empty])
        .unwrap();
    assert!(
        nothing_posted(&mut ring),
        "the tag came while a poll still used the file"
    );
    rustix_write(&tx, b"x");
    let cqes = reap(&mut ring, 2, uring_tests::PATIENCE);
    assert_eq!(cqes.len(), 2, "{cqes:?}");
    assert_eq!(cqes[0].0, 9, "the poll ends first: {cqes:?}");
    assert!(cqes[0].1 > 0, "{cqes:?}");
    assert_eq!(cqes[1], (7, 0), "then the tag: {cqes:?}");
}

/// Writes `bytes` to `fd`.
fn rustix_write(fd: &std::os::fd::OwnedFd, bytes: &[u8]) {
    use std::io::Write as _;
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    file.write_all(bytes).unwrap();
}

#[test]
fn a_buffer_s_tag_is_posted_once_no_op_uses_it() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let mut first = vec![0u8; 64];
    let mut second = vec![0u8; 64];
    let mut third = vec![0u8; 64];
    // SAFETY: the three vectors outlive the ring, which is dropped (and its
    // ops reaped) at the end of the test, and nothing else touches them
    // while a fixed-buffer op runs.
    let table = unsafe {
        ring.register_buffers_tagged(
            &[IoSliceMut::new(&mut first), IoSliceMut::new(&mut second)],
            &[10, 20],
        )
    }
    .unwrap();
    let (rx, tx) = uring_tests::pipe();
    // A read into buffer 0 waits for the pipe, holding the buffer.
    // SAFETY: `first` is registered memory that outlives the read, which is
    // reaped below.
    let into: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(first.as_mut_ptr(), 16) };
    push_lent!(
        ring,
        ReadFixed::new(&rx, into, table.get(0).unwrap()).user_data(100)
    )
    .unwrap();
    ring.submit().unwrap();
    // Slot 1 is emptied: its tag comes at once; slot 0 takes another buffer,
    // its tag waits for the read.
    // SAFETY: `third` outlives the ring, as above.
    let n = unsafe {
        ring.update_buffers_tagged(
            &table,
            0,
            &[Some(IoSliceMut::new(&mut third)), None],
            &[30, 0],
        )
    }
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(reap(&mut ring, 1, uring_tests::PATIENCE), [(20, 0)]);
    assert!(
        nothing_posted(&mut ring),
        "the tag came while a read used it"
    );
    drop(tx);
    let cqes = reap(&mut ring, 2, uring_tests::PATIENCE);
    assert_eq!(
        cqes,
        [(100, 0), (10, 0)],
        "the read ends first, then the tag"
    );
    // An empty slot takes no tag.
    // SAFETY: nothing is registered.
    let refused = unsafe { ring.update_buffers_tagged(&table, 1, &[None], &[5]) };
    assert_eq!(
        refused.as_ref().map_err(Error::raw_os_error),
        Err(Some(libc::EINVAL)),
        "{refused:?}"
    );
    // Tags and buffers of different lengths are refused before the kernel.
    // SAFETY: as above.
    let refused = unsafe { ring.update_buffers_tagged(&table, 0, &[None, None], &[5]) };
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "{refused:?}"
    );
    drop(ring);
    drop((first, second, third));
}

#[test]
fn a_ring_with_tags_tags_every_scope_op() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let shown = uring_tests::scope_nop_user_data;
    assert_eq!(shown(&mut ring), [2], "untagged while only scopes push");
    // Registering untagged files changes nothing.
    let (rx, _tx) = uring_tests::pipe();
    let mut files = ring.register_files(&[rx.as_fd()]).unwrap();
    assert_eq!(shown(&mut ring), [2]);
    ring.update_file_slots(&mut files, 0, &[SlotUpdate::Tagged(rx.as_fd(), 2)])
        .unwrap();
    let after = shown(&mut ring);
    assert_eq!(after.len(), 1);
    assert_ne!(after, [2], "tagged once a resource tag may be posted");
}

/// A scope of a ring that only scopes have used counts its untagged ops'
/// completions to know what is in flight. A file tag posted in the middle
/// of the scope (a `Close` of the tagged slot) must not be counted as one
/// of them: the scope would end with a receive still lent its buffer.
#[test]
fn a_tag_posted_during_a_scope_does_not_end_a_borrow() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring() else {
        return;
    };
    let (mut near, far) = UnixStream::pair().unwrap();
    let (rx, _tx) = uring_tests::pipe();
    let mut files = ring.register_files_tagged(&[(rx.as_fd(), 5)]).unwrap();
    let mut buf = [0xa5u8; 32];
    ring.scope(|s| {
        s.push(Recv::new(&far, &mut buf[..]).user_data(1)).unwrap();
        s.push(Close::new(files.get_mut(0).unwrap()).user_data(3))
            .unwrap();
        s.submit().unwrap();
        // The close, and the tag it makes the kernel post.
        let mut seen = BTreeSet::new();
        let deadline = std::time::Instant::now() + uring_tests::PATIENCE;
        while seen.len() < 2 && std::time::Instant::now() < deadline {
            let _ = s.wait_timeout(1, Duration::from_millis(50));
            for c in s.completions() {
                seen.insert((c.user_data(), c.res(), c.is_scope_op()));
            }
        }
        assert_eq!(
            seen,
            BTreeSet::from([(3, 0, true), (5, 0, false)]),
            "the close is the scope's, the tag is not"
        );
        assert_eq!(s.in_flight(), 1, "the receive is still in flight");
    });
    uring_tests::assert_nothing_writes_after(&mut [&mut near], &[&buf], 0xa5);
}
