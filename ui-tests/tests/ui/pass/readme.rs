// The README's examples, as written there (with their imports).
use std::os::fd::AsFd;
use std::time::Duration;
use uring::ops::{Nop, Read, Write};
use uring::{Error, Ring};

fn first() -> Result<(), Box<dyn std::error::Error>> {
    let mut ring = Ring::new(64)?;
    let file = tempfile_like()?;
    let files = ring.register_files(&[file.as_fd()])?;
    let slot = files.get(0)?; // a Fixed, from the handle
    let mut back = [0u8; 5];
    let mut seen = Vec::new();
    ring.scope(|s| -> uring::Result<()> {
        let chain = Write::new(slot, b"hello")
            .user_data(1)
            .link(Read::new(slot, &mut back[..]).user_data(2)) // runs after the write
            .timeout(Duration::from_millis(100)); // bounds the read
        s.push(chain)?; // 3 SQEs, or none
        s.submit_and_wait(3)?;
        for cqe in s.completions() {
            println!("{} -> {:?}", cqe.user_data(), cqe.result());
            seen.push((cqe.user_data(), cqe.res()));
        }
        Ok(())
    })?; // the kernel is done with `back`
    assert_eq!(&back, b"hello");
    seen.sort();
    assert_eq!(seen, [(0, -libc::ECANCELED), (1, 5), (2, 5)]);
    Ok(())
}

fn second() -> Result<(), Box<dyn std::error::Error>> {
    let mut ring = Ring::builder().cq_entries(1024).coop_taskrun().build(256)?;
    ring.push(Nop::new().user_data(1))?;
    let mut sq = ring.submission();
    for i in 0..32 {
        sq.push(Nop::new().user_data(i))?;
    }
    drop(sq);
    ring.submit_and_wait(33)?;
    assert_eq!(ring.completions().count(), 33);
    match ring.wait_timeout(1, Duration::from_millis(50)) {
        Err(Error::TimedOut) => Ok(()),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// A file in /tmp, deleted at once (what `tempfile::tempfile()` does).
fn tempfile_like() -> std::io::Result<std::fs::File> {
    let path = std::env::temp_dir().join(format!("uring-readme-{}", std::process::id()));
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

fn main() {
    first().unwrap();
    second().unwrap();
}
