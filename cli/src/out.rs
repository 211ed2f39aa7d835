//! Standard output that a closed pipe cannot crash: `println!` panics when stdout is
//! closed (`registry trust ... | head`), which would break the 0/1/2 exit contract with a
//! backtrace and exit 101. Every line the CLI prints goes through [`line`] instead, and a
//! write that fails ends the process with exit 2 and a one-line error, as any other
//! runtime error does. Nothing is left half-done by stopping there: files are written
//! and renamed into place, and entries submitted, before anything is printed.

use std::io::Write;

/// Prints one line to stdout, like `println!`.
macro_rules! outln {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Writes `args` and a newline to stdout; on failure (a closed pipe, a full disk behind a
/// redirect) exits with 2 after saying so on stderr.
pub fn line(args: std::fmt::Arguments<'_>) {
    // One write of the whole line, newline included, as `println!` does: a reader that
    // stops after this line (`grep -q`) then gets it whole, with no second write to fail.
    let mut text = std::fmt::format(args);
    text.push('\n');
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(e) = written {
        closed(&e)
    }
}

/// Ends the process after stdout failed.
pub fn closed(e: &std::io::Error) -> ! {
    crate::report::Report::message(format!("cannot write to standard output: {e}"), 2).print();
    std::process::exit(2)
}
