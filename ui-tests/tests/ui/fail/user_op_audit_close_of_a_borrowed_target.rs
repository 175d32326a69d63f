// CLOSE closes the descriptor in its SQE, whoever owns it: an entry of
// opcode CLOSE whose target is a borrow (`target: fd`) would close a live
// `File` under its owner, so it must take `target: owned`. Checked on the
// opcode's value, whatever form the entry gives it in.
uring::ops! {
    /// Closes a borrowed file.
    #[since = "5.6"]
    unsafe struct CloseBorrowed = CLOSE {
        target: fd,
    }
}

fn main() {}
