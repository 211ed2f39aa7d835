//! The validity window of an accreditation built from flags, checked before any key is
//! read or any node asked, with an error that says where each end came from.

use anyhow::{bail, Result};
use registry_core::entry::Op;

/// Refuses an accreditation whose `--valid-until` is not later than its start. With no
/// `--valid-from` (`from_given` false) the start is `now`, and the error says so.
pub fn check_window(op: &Op, from_given: bool) -> Result<()> {
    let Op::Accredit(a) = op else { return Ok(()) };
    let Some(until) = a.valid_until.filter(|u| *u <= a.valid_from) else {
        return Ok(());
    };
    if from_given {
        bail!(
            "--valid-until {until} must be later than --valid-from {}",
            a.valid_from
        );
    }
    bail!(
        "--valid-until {until} is not in the future: without --valid-from, validity starts \
         now ({}); give a later --valid-until, or an earlier --valid-from",
        a.valid_from
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::did::EntityId;
    use registry_core::entry::{Accreditation, Grant, Kind};
    use registry_core::time::Timestamp;

    fn op(from: u64, until: Option<u64>) -> Op {
        Op::Accredit(Accreditation {
            subject: EntityId::parse("did:web:uni.example").unwrap(),
            kind: Kind::Authorization,
            grants: vec![Grant::parse("issue:Degree").unwrap()],
            controllers: Vec::new(),
            valid_from: Timestamp(from),
            valid_until: until.map(Timestamp),
            label: None,
        })
    }

    #[test]
    fn an_empty_window_names_where_its_start_came_from() {
        assert!(check_window(&op(100, None), false).is_ok());
        assert!(check_window(&op(100, Some(101)), false).is_ok());
        let defaulted = check_window(&op(100, Some(50)), false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(defaulted.contains("validity starts now"), "{defaulted}");
        assert!(defaulted.contains("1970-01-01T00:01:40Z"), "{defaulted}");
        let given = check_window(&op(100, Some(100)), true)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(given.contains("later than --valid-from"), "{given}");
    }
}
