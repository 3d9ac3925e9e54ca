//! The one verdict on a transaction's replies, however they were collected: one command at a
//! time or as a PIPELINING group. Pure: no I/O.

use lettre::Address;

use super::*;

/// What a transaction's replies allow: the recipients the server took, and those left for a
/// further transaction (too many for this one, or not asked yet).
#[derive(Debug, PartialEq)]
pub(super) struct Taken {
    pub(super) accepted: Vec<Address>,
    pub(super) rest: Vec<(Address, Address)>,
}

/// Whether a recipient's reply settles the transaction, so one command at a time sends no
/// further RCPT TO: too many recipients (the rest go in a further transaction, or, with none
/// taken, the message waits), or a refusal for good. A policy refusal (5.7.x) does not, while no
/// recipient was taken: the others decide whether it is a relay refusal.
pub(super) fn settles(reply: &Result<(), SmtpError>, accepted_any: bool) -> bool {
    match reply {
        Ok(()) => false,
        Err(SmtpError::Rejected { code, reply, .. }) if is_too_many_recipients(*code, reply) => true,
        Err(SmtpError::Rejected { code, reply, .. }) if is_policy_refusal(*code, reply) => accepted_any,
        Err(_) => true,
    }
}

/// The one verdict on a transaction, however its replies were collected: one command at a time
/// (stopping where a reply `settles` it; the recipients after it are `None`, not asked) or as a
/// PIPELINING group (every reply read). `rcpts[i]` answers `left[i]`. In order: MAIL refused; a
/// recipient refused for good (nothing is sent to anyone); every recipient refused on policy
/// grounds (a relay refusal, `Stage::RcptAll`) or some (that refusal); too many recipients for
/// even one (the server's own 452); otherwise the recipients taken, and the rest left over.
pub(super) fn decide(
    left: &[(Address, Address)],
    mail: Result<(), SmtpError>,
    rcpts: Vec<Option<Result<(), SmtpError>>>,
) -> Result<Taken, SmtpError> {
    mail?;
    let (mut accepted, mut rest) = (Vec::new(), Vec::new());
    let (mut refusal, mut policy, mut too_many) = (None, None, None);
    for (pair, reply) in left.iter().zip(rcpts) {
        match reply {
            None => rest.push(pair.clone()),
            Some(Ok(())) => accepted.push(pair.0.clone()),
            Some(Err(e)) if matches!(&e, SmtpError::Rejected { code, reply, .. } if is_too_many_recipients(*code, reply)) =>
            {
                rest.push(pair.clone());
                too_many.get_or_insert(e);
            }
            Some(Err(e)) if matches!(&e, SmtpError::Rejected { code, reply, .. } if is_policy_refusal(*code, reply)) => {
                policy.get_or_insert(e);
            }
            Some(Err(e)) => {
                refusal.get_or_insert(e);
            }
        }
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    match policy {
        Some(SmtpError::Rejected { code, reply, .. }) if accepted.is_empty() => {
            return Err(SmtpError::Rejected { stage: Stage::RcptAll, code, reply });
        }
        Some(e) => return Err(e),
        None => {}
    }
    match too_many {
        Some(e) if accepted.is_empty() => Err(e),
        _ => Ok(Taken { accepted, rest }),
    }
}
