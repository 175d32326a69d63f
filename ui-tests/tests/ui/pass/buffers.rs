// A buffer or a provided-buffer selection where an op allows either; a group
// where an op always selects; leaked buffers through the safe push.
use uring::{BufferGroup, BufferPool, Ring, ops::{ProvideBuffers, Read, ReadMultishot}};

fn main() {
    let mut ring = Ring::new(16).unwrap();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let region: &'static mut [u8] = Box::leak(vec![1u8; 4 * 32].into_boxed_slice());
    let group = BufferGroup::new(5);
    ring.push(ProvideBuffers::new(BufferPool::new(region, 32), group).user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().next().unwrap().res(), 0);

    let own: &'static mut [u8] = Box::leak(vec![1u8; 16].into_boxed_slice());
    ring.push(Read::new(&zero, own).user_data(2)).unwrap();
    ring.push(Read::new(&zero, group.select(32)).user_data(3)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut done: Vec<(u64, i32, Option<u16>)> =
        ring.completions().map(|c| (c.user_data(), c.res(), c.buffer_id())).collect();
    done.sort();
    assert_eq!(done[0], (2, 16, None));
    assert_eq!((done[1].0, done[1].1), (3, 32));
    assert!(done[1].2.is_some_and(|id| id < 4));

    // A multishot read on a pipe (it needs a pollable file).
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    ring.push(ReadMultishot::new(fds[0], group).user_data(4)).unwrap();
    ring.submit().unwrap();
    // SAFETY: writing 3 bytes from a static string to our pipe.
    assert_eq!(unsafe { libc::write(fds[1], b"abc".as_ptr().cast(), 3) }, 3);
    ring.wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (4, 3));
    assert!(cqe.has_more() && cqe.buffer_id().is_some());
}
