//! The command lines of the I/O examples: positional arguments and
//! `--name value` (or `--name=value`) options, each checked, with a message
//! that names what is wrong instead of a panic. Arguments need not be
//! UTF-8: positional ones (paths) are kept as they are, and an option
//! value that is not UTF-8 is refused as not a number or not a choice.

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::os::unix::ffi::OsStrExt as _;
use std::str::FromStr;

/// A parsed command line.
#[derive(Debug)]
pub struct Args {
    usage: &'static str,
    positional: Vec<OsString>,
    options: Vec<(String, OsString)>,
}

impl Args {
    /// Parses the process's arguments; `known` lists the option names
    /// (without `--`) that take a value.
    pub fn from_env(usage: &'static str, known: &[&str]) -> Result<Args, String> {
        Args::parse(usage, known, std::env::args_os().skip(1))
    }

    /// Parses `args`; `known` lists the option names that take a value.
    /// After `--`, every argument is positional.
    pub fn parse(
        usage: &'static str,
        known: &[&str],
        args: impl IntoIterator<Item = OsString>,
    ) -> Result<Args, String> {
        let mut parsed = Args {
            usage,
            positional: Vec::new(),
            options: Vec::new(),
        };
        let mut args = args.into_iter();
        let mut only_positional = false;
        while let Some(arg) = args.next() {
            let bytes = arg.as_bytes();
            if only_positional || !bytes.starts_with(b"--") {
                parsed.positional.push(arg);
                continue;
            }
            if bytes == b"--" {
                only_positional = true;
                continue;
            }
            if bytes == b"--help" {
                return Err(usage.to_string());
            }
            let rest = &bytes[2..];
            let (name, inline) = match rest.iter().position(|&b| b == b'=') {
                Some(eq) => (&rest[..eq], Some(OsStr::from_bytes(&rest[eq + 1..]).into())),
                None => (rest, None),
            };
            // A name that is not UTF-8 is no known name.
            let name = String::from_utf8_lossy(name).into_owned();
            if !known.contains(&name.as_str()) {
                return Err(parsed.error(format!("unknown option --{name}")));
            }
            let value = match inline.or_else(|| args.next()) {
                Some(value) => value,
                None => return Err(parsed.error(format!("--{name} needs a value"))),
            };
            if parsed.options.iter().any(|(n, _)| *n == name) {
                return Err(parsed.error(format!("--{name} is given twice")));
            }
            parsed.options.push((name, value));
        }
        Ok(parsed)
    }

    /// The message for a bad command line: what is wrong, then the usage.
    pub fn error(&self, what: impl Display) -> String {
        format!("{what}\n{}", self.usage)
    }

    /// Exactly `n` positional arguments.
    pub fn positional(&self, n: usize) -> Result<&[OsString], String> {
        match self.positional.len() {
            len if len == n => Ok(&self.positional),
            len if len < n => Err(self.error(format!(
                "expected {n} argument(s) before the options, got {len}"
            ))),
            _ => Err(self.error(format!(
                "unexpected argument '{}'",
                self.positional[n].to_string_lossy()
            ))),
        }
    }

    /// The option `--name` parsed as a `T`, or `default`; an error if it
    /// does not parse or is outside `range`.
    pub fn number<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, String>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some((_, raw)) = self.options.iter().find(|(n, _)| n == name) else {
            return Ok(default);
        };
        let raw_str = raw.to_string_lossy();
        let value: T = raw
            .to_str()
            .and_then(|raw| raw.parse().ok())
            .ok_or_else(|| self.error(format!("--{name} {raw_str}: not a number")))?;
        let raw = raw_str;
        if !range.contains(&value) {
            return Err(self.error(format!(
                "--{name} {raw}: must be between {} and {}",
                range.start(),
                range.end()
            )));
        }
        Ok(value)
    }

    /// The option `--name`, which must be one of `choices`, or the first
    /// of them.
    pub fn choice(&self, name: &str, choices: &[&'static str]) -> Result<&'static str, String> {
        let Some((_, raw)) = self.options.iter().find(|(n, _)| n == name) else {
            return Ok(choices[0]);
        };
        choices
            .iter()
            .find(|c| OsStr::new(c) == raw)
            .copied()
            .ok_or_else(|| {
                self.error(format!(
                    "--{name} {}: must be one of {}",
                    raw.to_string_lossy(),
                    choices.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Args;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(
            "usage: t FILE [--qd N] [--mode raw|scope]",
            &["qd", "mode"],
            args.iter().map(|a| a.into()),
        )
    }

    #[test]
    fn options_and_positionals() {
        let a = parse(&["f", "--qd", "8", "--mode=scope"]).unwrap();
        assert_eq!(a.positional(1).unwrap(), ["f"]);
        assert_eq!(a.number("qd", 32u32, 1..=64).unwrap(), 8);
        assert_eq!(a.choice("mode", &["raw", "scope"]).unwrap(), "scope");
        let a = parse(&["--", "--f"]).unwrap();
        assert_eq!(a.positional(1).unwrap(), ["--f"]);
        assert_eq!(a.number("qd", 32u32, 1..=64).unwrap(), 32);
        assert_eq!(a.choice("mode", &["raw", "scope"]).unwrap(), "raw");
    }

    #[test]
    fn bad_input_is_an_error_naming_it() {
        let err = |args: &[&str]| match parse(args) {
            Err(e) => e,
            Ok(a) => a
                .positional(1)
                .and_then(|_| a.number("qd", 32u32, 1..=64))
                .and_then(|_| a.choice("mode", &["raw", "scope"]))
                .expect_err("rejected"),
        };
        assert!(err(&["f", "--depth", "1"]).starts_with("unknown option --depth"));
        assert!(err(&["f", "--qd"]).starts_with("--qd needs a value"));
        assert!(err(&["f", "--qd", "x"]).starts_with("--qd x: not a number"));
        assert!(err(&["f", "--qd", "0"]).starts_with("--qd 0: must be between 1 and 64"));
        assert!(err(&["f", "--qd", "1", "--qd", "2"]).starts_with("--qd is given twice"));
        assert!(
            err(&["f", "--mode", "safe"]).starts_with("--mode safe: must be one of raw, scope")
        );
        assert!(err(&[]).starts_with("expected 1 argument(s)"));
        assert!(err(&["f", "g"]).starts_with("unexpected argument 'g'"));
        assert!(err(&["f", "--help"]).starts_with("usage:"));
    }

    #[test]
    fn arguments_need_not_be_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt as _;
        let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        let parse = |args: Vec<std::ffi::OsString>| Args::parse("usage: t", &["qd"], args);
        let a = parse(vec![os(b"f\xff"), os(b"--qd=8")]).unwrap();
        assert_eq!(a.positional(1).unwrap(), [os(b"f\xff")]);
        assert_eq!(a.number("qd", 32u32, 1..=64).unwrap(), 8);
        let a = parse(vec![os(b"--qd"), os(b"\xff")]).unwrap();
        assert!(
            a.number("qd", 32u32, 1..=64)
                .unwrap_err()
                .contains("not a number")
        );
        let e = parse(vec![os(b"--\xff=1")]).unwrap_err();
        assert!(e.starts_with("unknown option --"), "{e}");
    }
}
