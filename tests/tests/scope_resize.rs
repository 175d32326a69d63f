//! `Scope::resize`: a ring's SQ and CQ resized while the scope's ops are in
//! flight with borrowed buffers (`IORING_REGISTER_RESIZE_RINGS`, 6.13,
//! `defer_taskrun` rings). The reads go on into the buffers they borrowed,
//! completions waiting in the CQ move to the new one with their
//! `user_data`, the scope's room follows the new CQ, and a CQ smaller than
//! the ops in flight is refused with nothing changed.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;

use uring::ops::{Nop, Read};
use uring::{Error, PushErrorKind, Ring};
use uring_tests::{pattern, require_kernel, skip, watchdog};

/// A `single_issuer` + `defer_taskrun` ring of `entries` SQ entries (CQ
/// twice that), or `None` with a skip message where the kernel cannot
/// resize.
fn resizable(entries: u32) -> Option<Ring> {
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return None;
    }
    match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .build(entries)
    {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("defer_taskrun ring: {e}"));
            None
        }
    }
}

/// `n` pipes: their read ends, and their write ends as files.
fn pipes(n: usize) -> (Vec<OwnedFd>, Vec<File>) {
    (0..n)
        .map(|_| {
            let (rd, wr) = uring_tests::pipe();
            (rd, File::from(wr))
        })
        .unzip()
}

const CANARY: u8 = 0xA5;

#[test]
fn a_scope_grows_its_ring_with_borrowed_reads_in_flight_and_keeps_them() {
    let _watch = watchdog();
    let Some(mut ring) = resizable(4) else {
        return;
    };
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    const N: usize = 20;
    let (rds, mut wrs) = pipes(N);
    // Each buffer has 16 bytes for its read and a canary tail of 16 the
    // read must never touch.
    let mut bufs = vec![[CANARY; 32]; N];
    let results = ring.scope(|s| {
        let mut bufs = bufs.iter_mut().enumerate();
        // Eight reads fill the scope's room (the CQ's 8 entries).
        for (i, buf) in bufs.by_ref().take(8) {
            s.push(Read::new(&rds[i], &mut buf[..16]).user_data(i as u64))
                .unwrap();
            s.submit().unwrap();
        }
        assert_eq!(s.in_flight(), 8);
        let (i, buf) = bufs.next().unwrap();
        let refused = s
            .push(Read::new(&rds[i], &mut buf[..16]).user_data(i as u64))
            .unwrap_err();
        assert_eq!(refused.kind(), PushErrorKind::ScopeFull);
        let refused = refused.into_inner();
        // Two of the first eight complete before the resize: their
        // completions wait in the CQ across it.
        wrs[0].write_all(&pattern(16, 0)).unwrap();
        wrs[1].write_all(&pattern(16, 1)).unwrap();
        s.get_events().unwrap();
        assert_eq!(s.ready(), 2);
        s.resize(8, 64).unwrap();
        // The new room takes the refused read and the rest.
        s.push(refused).unwrap();
        s.submit().unwrap();
        for (i, buf) in bufs {
            s.push(Read::new(&rds[i], &mut buf[..16]).user_data(i as u64))
                .unwrap();
            s.submit().unwrap();
        }
        assert_eq!(s.in_flight(), N as u32);
        for (i, wr) in wrs.iter_mut().enumerate().skip(2) {
            wr.write_all(&pattern(16, i as u8)).unwrap();
        }
        let mut results = Vec::new();
        while results.len() < N {
            s.submit_and_wait(1).unwrap();
            results.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        assert_eq!(s.in_flight(), 0);
        results
    });
    drop(ring);
    let mut results = results;
    results.sort_unstable();
    let want: Vec<(u64, i32)> = (0..N as u64).map(|i| (i, 16)).collect();
    assert_eq!(results, want, "each read completed once, whole");
    for (i, buf) in bufs.iter().enumerate() {
        assert_eq!(buf[..16], pattern(16, i as u8)[..], "read {i}");
        assert!(buf[16..].iter().all(|&b| b == CANARY), "read {i}'s tail");
    }
}

#[test]
fn a_scope_refuses_a_cq_smaller_than_its_ops_in_flight_and_goes_on() {
    let _watch = watchdog();
    let Some(mut ring) = resizable(8) else {
        return;
    };
    let (rds, mut wrs) = pipes(6);
    let mut bufs = [[CANARY; 8]; 6];
    let results = ring.scope(|s| {
        for (i, buf) in bufs.iter_mut().enumerate() {
            s.push(Read::new(&rds[i], &mut buf[..]).user_data(i as u64))
                .unwrap();
        }
        s.submit().unwrap();
        // Six in flight: a CQ of four is refused before the kernel is
        // asked; the ring keeps its sizes, the scope its room.
        match s.resize(4, 4) {
            Err(Error::InvalidArgument(_)) => {}
            other => panic!("a CQ of 4 under 6 ops: {other:?}"),
        }
        // A CQ of eight (the ops fit) with an SQ of two: taken.
        s.resize(2, 8).unwrap();
        // Room for two more, no more: the SQ of two takes them.
        s.push(Nop::new().user_data(10)).unwrap();
        s.push(Nop::new().user_data(11)).unwrap();
        s.submit().unwrap();
        let e = s.push(Nop::new().user_data(12)).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ScopeFull);
        for (i, wr) in wrs.iter_mut().enumerate() {
            wr.write_all(&pattern(8, i as u8)).unwrap();
        }
        let mut results = Vec::new();
        while results.len() < 8 {
            s.submit_and_wait(1).unwrap();
            results.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        results
    });
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (2, 8));
    let mut results = results;
    results.sort_unstable();
    let mut want: Vec<(u64, i32)> = (0..6).map(|i| (i, 8)).collect();
    want.extend([(10, 0), (11, 0)]);
    assert_eq!(results, want);
    for (i, buf) in bufs.iter().enumerate() {
        assert_eq!(buf[..], pattern(8, i as u8)[..], "read {i}");
    }
}

#[test]
fn a_scope_shrinks_its_room_with_its_cq() {
    let _watch = watchdog();
    let Some(mut ring) = resizable(16) else {
        return;
    };
    let (rds, mut wrs) = pipes(2);
    let mut bufs = [[CANARY; 4]; 2];
    ring.scope(|s| {
        let [a, b] = &mut bufs;
        s.push(Read::new(&rds[0], &mut a[..]).user_data(0)).unwrap();
        s.push(Read::new(&rds[1], &mut b[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        s.resize(4, 4).unwrap();
        // Two in flight of a room of four.
        s.push(Nop::new().user_data(2)).unwrap();
        s.push(Nop::new().user_data(3)).unwrap();
        assert_eq!(
            s.push(Nop::new().user_data(4)).unwrap_err().kind(),
            PushErrorKind::ScopeFull
        );
        s.submit_and_wait(2).unwrap();
        let nops: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(nops, [(2, 0), (3, 0)]);
        // Grown again, with the reads still in flight.
        s.resize(8, 32).unwrap();
        for i in 0..30 {
            match s.push(Nop::new().user_data(100 + i)) {
                Ok(()) => {}
                Err(e) if e.kind() == PushErrorKind::QueueFull => {
                    s.submit().unwrap();
                    s.push(e.into_inner()).unwrap();
                }
                Err(e) => panic!("push {i} into a room of 32: {:?}", e.kind()),
            }
        }
        assert_eq!(s.in_flight(), 32);
        assert_eq!(
            s.push(Nop::new().user_data(999)).unwrap_err().kind(),
            PushErrorKind::ScopeFull
        );
        wrs[0].write_all(b"abcd").unwrap();
        wrs[1].write_all(b"efgh").unwrap();
        let mut seen = Vec::new();
        while seen.len() < 32 {
            s.submit_and_wait(1).unwrap();
            seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        seen.sort_unstable();
        let mut want = vec![(0, 4), (1, 4)];
        want.extend((100..130).map(|u| (u, 0)));
        assert_eq!(seen, want);
    });
    assert_eq!(&bufs, &[*b"abcd", *b"efgh"]);
}

#[test]
fn a_scope_of_a_ring_the_kernel_does_not_resize_is_refused_and_goes_on() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let (rd, wr) = uring_tests::pipe();
    let mut wr = File::from(wr);
    let mut buf = [CANARY; 8];
    let res = ring.scope(|s| {
        s.push(Read::new(&rd, &mut buf[..]).user_data(7)).unwrap();
        s.submit().unwrap();
        assert!(matches!(s.resize(8, 16), Err(Error::InvalidArgument(_))));
        // The scope's room is the CQ's still: 8, one taken.
        for i in 0..7 {
            match s.push(Nop::new().user_data(i)) {
                Ok(()) => {}
                Err(e) if e.kind() == PushErrorKind::QueueFull => {
                    s.submit().unwrap();
                    s.push(e.into_inner()).unwrap();
                }
                Err(e) => panic!("push {i}: {:?}", e.kind()),
            }
        }
        assert_eq!(
            s.push(Nop::new().user_data(8)).unwrap_err().kind(),
            PushErrorKind::ScopeFull
        );
        wr.write_all(b"12345678").unwrap();
        let mut seen = Vec::new();
        while seen.len() < 8 {
            s.submit_and_wait(1).unwrap();
            seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        seen.sort_unstable();
        seen
    });
    let mut want: Vec<(u64, i32)> = (0..7).map(|i| (i, 0)).collect();
    want.push((7, 8));
    assert_eq!(res, want);
    assert_eq!(&buf, b"12345678");
}
