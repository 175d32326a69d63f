//! Direct descriptors: ops that create a descriptor can put it in the ring's
//! fixed-file table instead of the process's descriptor table.

use std::ffi::CString;
use std::io::Write as _;
use std::net::TcpStream;
use uring::Fd;
use uring_tests::push_lent;

use uring::ops::{Accept, Close, OpenAt, Pipe, Read, Socket, Write};
use uring::{DirectSlot, Error, FixedFiles, Ring};
use uring_tests::require_kernel;

fn reap_one(ring: &mut Ring) -> (u64, i32) {
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    (cqe.user_data(), cqe.res())
}

fn read_through(ring: &mut Ring, files: &FixedFiles, slot: u32, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let fixed = files.get(slot).unwrap();
    // SAFETY: `buf` outlives the wait for the completion in reap_one.
    unsafe { ring.push_unchecked(Read::new(fixed, &mut buf[..]).user_data(99)) }
        .map_err(Error::from)
        .unwrap();
    let (_, res) = reap_one(ring);
    assert!(res >= 0, "read through slot {slot}: {res}");
    buf.truncate(res as usize);
    buf
}

#[test]
fn open_into_a_chosen_slot_and_into_a_picked_one() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(5, 15, "direct descriptors") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, b"direct").unwrap();
    let path: &'static CString = Box::leak(Box::new(CString::new(path.to_str().unwrap()).unwrap()));
    let mut files = ring.register_files_sparse(4).unwrap();

    // The kernel refuses O_CLOEXEC, the default, for a direct descriptor.
    push_lent!(
        ring,
        OpenAt::new(Fd::CWD, path.as_c_str())
            .direct(DirectSlot::at(files.get_mut(2).unwrap()))
            .user_data(9),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring), (9, -libc::EINVAL));
    push_lent!(
        ring,
        OpenAt::new(Fd::CWD, path.as_c_str())
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::at(files.get_mut(2).unwrap()))
            .user_data(1),
    )
    .unwrap();
    assert_eq!(
        reap_one(&mut ring),
        (1, 0),
        "a chosen slot completes with 0"
    );
    assert_eq!(read_through(&mut ring, &files, 2, 16), b"direct");

    push_lent!(
        ring,
        OpenAt::new(Fd::CWD, path.as_c_str())
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC)
            .user_data(2),
    )
    .unwrap();
    let (_, slot) = reap_one(&mut ring);
    assert!((0..4).contains(&slot) && slot != 2, "a picked slot: {slot}");
    assert_eq!(read_through(&mut ring, &files, slot as u32, 16), b"direct");

    // Closing a direct descriptor empties its slot.
    push_lent!(ring, Close::new(files.get_mut(2).unwrap()).user_data(3)).unwrap();
    assert_eq!(reap_one(&mut ring), (3, 0));
    let mut buf = [0u8; 4];
    // SAFETY: `buf` outlives the wait for the completion.
    unsafe { ring.push_unchecked(Read::new(files.get(2).unwrap(), &mut buf[..]).user_data(4)) }
        .map_err(Error::from)
        .unwrap();
    assert_eq!(reap_one(&mut ring), (4, -libc::EBADF));
}

#[test]
fn accept_and_socket_make_direct_descriptors() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(5, 19, "direct sockets") {
        return;
    }
    let files = ring.register_files_sparse(4).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    push_lent!(
        ring,
        Accept::new(&listener)
            .direct(DirectSlot::ALLOC)
            .user_data(1),
    )
    .unwrap();
    ring.submit().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (_, slot) = reap_one(&mut ring);
    assert!((0..4).contains(&slot), "accepted into slot {slot}");
    client.write_all(b"via slot").unwrap();
    assert_eq!(
        read_through(&mut ring, &files, slot as u32, 16),
        b"via slot"
    );

    push_lent!(
        ring,
        Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
            .direct(DirectSlot::ALLOC)
            .user_data(2),
    )
    .unwrap();
    let (_, socket_slot) = reap_one(&mut ring);
    assert!((0..4).contains(&socket_slot) && socket_slot != slot);
}

#[test]
fn a_pipe_of_direct_descriptors() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 16, "direct pipes") {
        return;
    }
    let files = ring.register_files_sparse(4).unwrap();
    let fds: &'static mut [i32; 2] = Box::leak(Box::new([-1; 2]));
    let fds_addr: *const [i32; 2] = fds;
    push_lent!(
        ring,
        Pipe::new(fds)
            .pipe_flags(0)
            .direct(DirectSlot::ALLOC)
            .user_data(1),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring), (1, 0));
    // SAFETY: the pipe's completion has been read: the kernel is done
    // writing the two slots.
    let [rx, tx] = unsafe { *fds_addr };
    assert!(
        (0..4).contains(&rx) && (0..4).contains(&tx) && rx != tx,
        "{rx} {tx}"
    );
    push_lent!(
        ring,
        Write::new(files.get(tx as u32).unwrap(), b"piped").user_data(2)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring), (2, 5));
    assert_eq!(read_through(&mut ring, &files, rx as u32, 16), b"piped");
}

/// A sparse table of no slot, or of more than the kernel allows, is refused
/// before the kernel is asked.
#[test]
fn a_sparse_file_table_of_no_slot_or_too_many_is_refused() {
    let mut ring = Ring::new(4).unwrap();
    for len in [0, uring::sys::IORING_MAX_FIXED_FILES + 1] {
        let refused = ring.register_files_sparse(len);
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "{len}: {:?}",
            refused.err()
        );
    }
    // The ring is left without a table: a real one registers after.
    assert_eq!(ring.register_files_sparse(2).unwrap().len(), 2);
}
