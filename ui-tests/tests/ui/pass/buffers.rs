// A buffer or a provided-buffer selection where an op allows either; a group
// where an op always selects; leaked buffers handed to the kernel.
use uring::{BufferGroup, BufferPool, Ring, ops::{ProvideBuffers, Read, ReadMultishot}};

fn main() {
    let mut ring = Ring::new(16).unwrap();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let region: &'static mut [u8] = Box::leak(vec![1u8; 4 * 32].into_boxed_slice());
    let group = BufferGroup::new(5);
    // SAFETY: the region is leaked: it stays allocated as long as the
    // kernel may fill its buffers.
    unsafe { ring.push_unchecked(ProvideBuffers::new(BufferPool::new(region, 32), group).user_data(1)) }
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().next().unwrap().res(), 0);

    let mut own = [1u8; 16];
    let done = ring.scope(|s| {
        s.push(Read::new(&zero, &mut own[..]).user_data(2)).unwrap();
        s.push(Read::new(&zero, group.select(32)).user_data(3)).unwrap();
        s.submit_and_wait(2).unwrap();
        let mut done: Vec<(u64, i32, Option<u16>)> =
            s.completions().map(|c| (c.user_data(), c.res(), c.buffer_id())).collect();
        done.sort();
        done
    });
    assert_eq!(done[0], (2, 16, None));
    assert_eq!((done[1].0, done[1].1), (3, 32));
    assert!(done[1].2.is_some_and(|id| id < 4));

    // A multishot read on a pipe (it needs a pollable file).
    let (rx, tx) = std::io::pipe().unwrap();
    let cqe = ring.scope(|s| {
        s.push(ReadMultishot::new(&rx, group).user_data(4)).unwrap();
        s.submit().unwrap();
        std::io::Write::write_all(&mut &tx, b"abc").unwrap();
        s.wait(1).unwrap();
        s.completions().next().unwrap().cqe()
        // The scope cancels the multishot read as it ends.
    });
    assert_eq!((cqe.user_data(), cqe.res()), (4, 3));
    assert!(cqe.has_more() && cqe.buffer_id().is_some());
}
