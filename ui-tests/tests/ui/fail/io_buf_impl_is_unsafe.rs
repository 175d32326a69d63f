// `IoBuf` promises the reactor memory that stays put while the kernel reads
// it: implementing it takes `unsafe`.
use uring::reactor::IoBuf;

struct Bytes(Vec<u8>);

impl IoBuf for Bytes {
    fn stable_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.0.len()
    }
}

fn main() {}
