// Advice acts on whole pages and may discard their contents: naming the
// range is the caller's promise.
use uring::MadviseRange;

fn main() {
    let mut page = vec![0u8; 4096];
    let _range = MadviseRange::new(page.as_mut_ptr(), 4096);
}
