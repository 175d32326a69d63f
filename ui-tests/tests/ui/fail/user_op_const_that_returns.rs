// A `const` field of an op is computed at compile time: it cannot leave
// the SQE's preparation (`return`) after the slot is reserved, which would
// publish whatever the slot held before.
fn stop() -> bool {
    true
}

uring::ops! {
    /// A NOP whose (ignored) `len` comes from a block.
    #[since = "5.1"]
    unsafe struct Stale = NOP {
        const len = {
            if stop() {
                return;
            }
            0u32
        },
    }
}

fn main() {
    let _ = Stale::new();
}
