//! Chains whose length is known only at run time (`Linked`): linked in
//! order, soft or hard, pushed whole or not at all on rings, batches and
//! scopes, and handed back when they do not fit.

use std::io::Write as _;
use std::os::fd::AsFd;

use uring::ops::{Nop, Read, Write};
use uring::{Linked, PushErrorKind, Ring, sys};
use uring_tests::{bad_fd, pairs, pipe, submit_and_reap};

/// The flags of the SQEs waiting in `ring`, in order.
fn pending_flags(ring: &mut Ring) -> Vec<u8> {
    ring.pending_sqes().map(|sqe| sqe.flags).collect()
}

/// Reaps `n` completions of a scope, in the order the CQ gave them.
fn scope_reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    while got.len() < n {
        s.submit_and_wait(1).unwrap();
        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
    }
    got
}

#[test]
fn each_element_but_the_last_carries_the_link() {
    let mut ring = Ring::new(16).unwrap();
    ring.push_linked(Linked::new(
        (0..5).map(|i| Nop::new().user_data(i)).collect(),
    ))
    .unwrap();
    let link = sys::IOSQE_IO_LINK;
    assert_eq!(pending_flags(&mut ring), [link, link, link, link, 0]);
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 5)),
        [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]
    );
    ring.push_linked(Linked::hard(
        (0..3).map(|i| Nop::new().user_data(i)).collect(),
    ))
    .unwrap();
    let hard = sys::IOSQE_IO_HARDLINK;
    assert_eq!(pending_flags(&mut ring), [hard, hard, 0]);
    submit_and_reap(&mut ring, 3);
    ring.push_linked(Linked::new(vec![Nop::new().user_data(9)]))
        .unwrap();
    assert_eq!(
        pending_flags(&mut ring),
        [0],
        "one element links to nothing"
    );
    submit_and_reap(&mut ring, 1);
}

#[test]
fn an_empty_chain_pushes_nothing() {
    let mut ring = Ring::new(4).unwrap();
    let empty: Linked<Nop> = Linked::new(Vec::new());
    assert!(empty.is_empty());
    ring.push_linked(empty).unwrap();
    assert_eq!(ring.pending(), 0);
    ring.scope(|s| {
        s.push_linked(Linked::<Nop>::hard(Vec::new())).unwrap();
        assert_eq!(s.in_flight(), 0);
    });
}

#[test]
fn a_chain_of_chains_links_each_to_the_next() {
    let mut ring = Ring::new(16).unwrap();
    let pair = |i: u64| {
        Nop::new()
            .user_data(2 * i)
            .hard_link(Nop::new().user_data(2 * i + 1))
    };
    ring.push_linked(Linked::new((0..3).map(pair).collect()))
        .unwrap();
    let (link, hard) = (sys::IOSQE_IO_LINK, sys::IOSQE_IO_HARDLINK);
    assert_eq!(pending_flags(&mut ring), [hard, link, hard, link, hard, 0]);
    let got = pairs(&submit_and_reap(&mut ring, 6));
    assert_eq!(got, (0..6).map(|i| (i, 0)).collect::<Vec<_>>());
}

/// A failed read breaks a soft chain (the rest is cancelled) but not a
/// hard one (the rest runs).
#[test]
fn a_failure_cancels_the_rest_of_a_soft_chain_only() {
    let mut ring = Ring::new(8).unwrap();
    for hard in [false, true] {
        let (rx, mut tx) = pipe_file();
        tx.write_all(b"abcdabcd").unwrap();
        let mut bufs = [[0u8; 4]; 3];
        let got = ring.scope(|s| {
            let [a, b, c] = &mut bufs;
            let ops = vec![
                Read::new(bad_fd(), &mut a[..]).user_data(0),
                Read::new(&rx, &mut b[..]).user_data(1),
                Read::new(&rx, &mut c[..]).user_data(2),
            ];
            let chain = if hard {
                Linked::hard(ops)
            } else {
                Linked::new(ops)
            };
            s.push_linked(chain).unwrap();
            scope_reap(s, 3)
        });
        if hard {
            assert_eq!(got, [(0, -libc::EBADF), (1, 4), (2, 4)]);
            assert_eq!(&bufs[1..], [*b"abcd", *b"abcd"]);
        } else {
            assert_eq!(
                got,
                [
                    (0, -libc::EBADF),
                    (1, -libc::ECANCELED),
                    (2, -libc::ECANCELED)
                ]
            );
            assert_eq!(bufs, [[0u8; 4]; 3], "nothing read");
        }
    }
}

/// A pipe whose write end is a `File`.
fn pipe_file() -> (std::os::fd::OwnedFd, std::fs::File) {
    let (rx, tx) = pipe();
    (rx, std::fs::File::from(tx))
}

/// liburing's test/link.c `test_io_link` shape: a hundred writes linked in
/// one chain, each at its own offset, all completing in order with the file
/// holding every one.
#[test]
fn a_hundred_linked_writes_land_in_order() {
    let mut ring = Ring::new(128).unwrap();
    let file = tempfile::tempfile().unwrap();
    let blocks: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 64]).collect();
    let got = ring.scope(|s| {
        let writes: Vec<_> = blocks
            .iter()
            .enumerate()
            .map(|(i, block)| {
                Write::new(&file, block)
                    .offset(i as u64 * 64)
                    .user_data(i as u64)
            })
            .collect();
        s.push_linked(Linked::new(writes)).unwrap();
        scope_reap(s, 100)
    });
    assert_eq!(got, (0..100).map(|i| (i, 64)).collect::<Vec<_>>());
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut bytes).unwrap();
    assert_eq!(bytes, blocks.concat());
}

#[test]
fn a_chain_longer_than_the_free_queue_comes_back_whole() {
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(100)).unwrap();
    let chain = Linked::new((0..8).map(|i| Nop::new().user_data(i)).collect());
    let refused = ring
        .push_linked(chain)
        .expect_err("8 SQEs into 7 free slots");
    assert_eq!(refused.kind(), PushErrorKind::QueueFull);
    let chain = refused.into_inner();
    assert_eq!(chain.len(), 8, "every element handed back");
    assert_eq!(ring.pending(), 1, "nothing of the chain was written");
    submit_and_reap(&mut ring, 1);
    ring.push_linked(chain).unwrap();
    assert_eq!(ring.pending(), 8);
    let got = pairs(&submit_and_reap(&mut ring, 8));
    assert_eq!(got, (0..8).map(|i| (i, 0)).collect::<Vec<_>>());
}

/// A chain that wraps around the end of the SQE array is written whole.
#[test]
fn a_chain_across_the_end_of_the_array() {
    let mut ring = Ring::new(8).unwrap();
    for round in 0..5u64 {
        let chain = Linked::new(
            (0..5)
                .map(|i| Nop::new().user_data(round * 10 + i))
                .collect(),
        );
        ring.push_linked(chain).unwrap();
        let got = pairs(&submit_and_reap(&mut ring, 5));
        assert_eq!(
            got,
            (0..5).map(|i| (round * 10 + i, 0)).collect::<Vec<_>>(),
            "round {round}"
        );
    }
}

#[test]
fn a_scope_refuses_a_chain_it_cannot_track() {
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let mut bufs = [[0u8; 1]; 12];
    ring.scope(|s| {
        // Twelve reads wait on an empty pipe: 4 of the 16 places are left.
        for (i, buf) in bufs.iter_mut().enumerate() {
            s.push(Read::new(&rx, &mut buf[..]).user_data(i as u64))
                .unwrap();
            if i == 5 {
                s.submit().unwrap();
            }
        }
        s.submit().unwrap();
        let chain = Linked::new((0..5).map(|i| Nop::new().user_data(50 + i)).collect());
        let refused = s.push_linked(chain).expect_err("5 ops, 4 places");
        assert_eq!(refused.kind(), PushErrorKind::ScopeFull);
        assert_eq!(refused.into_inner().len(), 5);
        assert_eq!(s.in_flight(), 12);
        let chain = Linked::new((0..4).map(|i| Nop::new().user_data(50 + i)).collect());
        s.push_linked(chain).unwrap();
        assert_eq!(s.in_flight(), 16);
        let got = scope_reap(s, 4);
        assert_eq!(got, [(50, 0), (51, 0), (52, 0), (53, 0)]);
        // The reads are cancelled when the scope ends.
    });
}

#[test]
fn a_registered_file_of_another_ring_refuses_the_whole_chain() {
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let ours = ring.register_files(&[rx.as_fd()]).unwrap();
    let theirs = other.register_files(&[rx.as_fd()]).unwrap();
    let mut bufs = [[0u8; 1]; 3];
    ring.scope(|s| {
        let [a, b, c] = &mut bufs;
        let chain = Linked::new(vec![
            Read::new(ours.get(0).unwrap(), &mut a[..]),
            Read::new(theirs.get(0).unwrap(), &mut b[..]),
            Read::new(ours.get(0).unwrap(), &mut c[..]),
        ]);
        let refused = s.push_linked(chain).expect_err("a foreign slot");
        assert_eq!(refused.kind(), PushErrorKind::ForeignFile);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(ring.pending(), 0);
}

#[test]
fn a_batch_pushes_chains_between_ops() {
    let mut ring = Ring::new(16).unwrap();
    {
        let mut sq = ring.submission();
        sq.push(Nop::new().user_data(1)).unwrap();
        sq.push_linked(Linked::new(vec![
            Nop::new().user_data(2),
            Nop::new().user_data(3),
        ]))
        .unwrap();
        sq.push(Nop::new().user_data(4)).unwrap();
    }
    let link = sys::IOSQE_IO_LINK;
    assert_eq!(pending_flags(&mut ring), [0, link, 0, 0]);
    let got = pairs(&submit_and_reap(&mut ring, 4));
    // The chain's second op starts once its first completes: after it,
    // and maybe after the op pushed behind the chain.
    let at = |user_data| got.iter().position(|&(u, _)| u == user_data).unwrap();
    assert!(at(2) < at(3), "{got:?}");
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [(1, 0), (2, 0), (3, 0), (4, 0)]);
}

#[test]
fn a_chain_prints_its_kind_and_elements() {
    let chain = Linked::hard(vec![Nop::new().user_data(1)]);
    assert_eq!(
        format!("{chain:?}"),
        "Linked::hard([Nop { user_data: 1, flags: 0x0, .. }])"
    );
}
