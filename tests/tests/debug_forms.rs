//! What the `Debug` forms of the queue, scope and buffer-ring types show,
//! read from a ring at work: counts, ids and lengths as they are.

use std::io::Write as _;
use std::os::unix::net::UnixStream;

use uring::ops::{Nop, Read, Recv};
use uring::{BufferGroup, Builder, Cqe, Cqe32, Ring, Sqe64};

#[test]
fn scope_types_show_their_state() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 4];
    ring.scope(|s| {
        assert_eq!(format!("{s:?}"), "Scope { in_flight: 0, .. }");
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        {
            let mut sq = s.submission();
            sq.push(Nop::new().user_data(2)).unwrap();
            assert_eq!(
                format!("{sq:?}"),
                "ScopeSubmissionQueue { sq: SubmissionQueue { tail: 2, .. }, .. }"
            );
        }
        s.push_owned(vec![0; 2], |_, owned| {
            assert_eq!(format!("{owned:?}"), "OwnedPush { .. }");
        })
        .unwrap_err();
        assert_eq!(format!("{s:?}"), "Scope { in_flight: 2, .. }");
        s.submit_and_wait(1).unwrap();
        let mut it = s.completions();
        assert_eq!(format!("{it:?}"), "ScopeCompletions { .. }");
        let nop = it.next().unwrap();
        assert_eq!(
            format!("{nop:?}"),
            "Cqe { user_data: 2, res: 0, flags: 0x0 }"
        );
        assert!(it.next().is_none());
        drop(it);
        tx.write_all(b"ab").unwrap();
        s.wait(1).unwrap();
        let read: Vec<Cqe> = s.completions().collect();
        assert_eq!(
            format!("{read:?}"),
            "[Cqe { user_data: 1, res: 2, flags: 0x0 }]"
        );
        assert_eq!(format!("{s:?}"), "Scope { in_flight: 0, .. }");
    });
}

#[test]
fn buffer_rings_and_buffers_show_their_counts() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let pool = match ring.register_buf_ring(BufferGroup::new(60), 4, 32) {
        Ok(pool) => pool,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!("skipped: the kernel lacks provided-buffer rings: {e}");
            return;
        }
        Err(e) => panic!("register_buf_ring: {e}"),
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"xyz").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(format!("{buf:?}"), "Buf { bid: 0, offset: 0, len: 3 }");
        assert_eq!(
            format!("{pool:?}"),
            "BufRing { group: BufferGroup(60), count: 4, buf_len: 32, incremental: false, lent: 1 }"
        );
    });
    assert_eq!(
        format!("{pool:?}"),
        "BufRing { group: BufferGroup(60), count: 4, buf_len: 32, incremental: false, lent: 0 }"
    );
}

#[test]
fn a_big_completion_shows_its_extra_words() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
    ring.push(Nop::new().user_data(1).big_cqe([7, 8])).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!(
        format!("{cqe:?}"),
        "BigCqe { cqe: Cqe { user_data: 1, res: 0, flags: 0x0 }, big_cqe: [7, 8], is_big: true }"
    );
    assert_eq!(cqe.as_raw().big_cqe, [7, 8]);
    assert_eq!(cqe.as_raw().cqe.user_data, 1);
    assert_eq!(AsRef::<Cqe>::as_ref(&cqe).user_data(), 1);
}
