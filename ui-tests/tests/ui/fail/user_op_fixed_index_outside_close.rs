// Only CLOSE takes its slot from `file_index`: a WRITE reads its file from
// `fd` alone, so a fixed target put in `file_index` would leave the write
// on the descriptor the 0 in `fd` names.
uring::ops! {
    /// Writes `buf` to the target.
    #[since = "5.6"]
    unsafe struct SlotWrite<'a> = WRITE {
        target: fd | fixed(file_index),
        buf: &'a [u8] => addr + len,
    }
}

fn main() {}
