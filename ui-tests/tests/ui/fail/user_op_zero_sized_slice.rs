// A slice fills `addr + len` with its count of items: a slice of
// zero-sized values borrows no byte, so the kernel would read or write
// `len` bytes at a dangling address. Refused where the op is built.
#[repr(align(4096))]
#[derive(Clone, Copy)]
struct Page;

uring::ops! {
    /// Reads into a slice of pages.
    #[since = "5.6"]
    unsafe struct ReadPages<'a> = READ {
        target: fd,
        pages: &'a mut [Page] => addr + len,
    }
}

fn main() {
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut pages = [Page; 64];
    let mut ring = uring::Ring::new(4).unwrap();
    ring.scope(|s| {
        let _ = s.push(ReadPages::new(&file, &mut pages[..]));
    });
}
