use super::*;
use crate::Severity;

/// Issue 26: one verdict for both ways of asking. Each script is a server's replies to the
/// RCPT TOs; one command at a time stops where a reply settles the transaction (as the send
/// loop does), a PIPELINING group reads them all. Both must come to the same decision: sent
/// or not, and when not, the same refusal (code and stage).
#[test]
fn one_verdict_for_one_command_at_a_time_and_for_a_group() {
    let addr = |n: usize| Address::new(format!("r{n}"), "example.net").unwrap();
    let reply = |n: usize, code: u16| -> Result<(), SmtpError> {
        let text = match code {
            250 => return Ok(()),
            452 => "452 4.5.3 Too many recipients",
            554 => "554 5.7.1 Relay access denied",
            454 => "454 4.7.1 Relay access denied",
            _ => "550 5.1.1 User unknown",
        };
        Err(SmtpError::Rejected { stage: Stage::RcptTo(addr(n).to_string()), code, reply: text.into() })
    };
    let verdict_of = |r: &Result<Taken, SmtpError>| match r {
        Ok(t) => Ok(t.accepted.len()),
        Err(SmtpError::Rejected { stage, code, .. }) => Err((stage.clone(), *code)),
        Err(e) => panic!("{e}"),
    };
    type Expected = Result<usize, (Stage, u16)>;
    let scripts: &[(&[u16], Expected)] = &[
        (&[250, 250, 250], Ok(3)),
        (&[550, 250], Err((Stage::RcptTo(addr(0).to_string()), 550))),
        (&[250, 550, 250], Err((Stage::RcptTo(addr(1).to_string()), 550))),
        (&[554, 554], Err((Stage::RcptAll, 554))),
        (&[454, 454, 454], Err((Stage::RcptAll, 454))),
        (&[250, 554], Err((Stage::RcptTo(addr(1).to_string()), 554))),
        (&[554, 250], Err((Stage::RcptTo(addr(0).to_string()), 554))),
        (&[452, 452], Err((Stage::RcptTo(addr(0).to_string()), 452))),
    ];
    for (codes, expected) in scripts {
        let left: Vec<(Address, Address)> = (0..codes.len()).map(|i| (addr(i), addr(i))).collect();
        let group = decide(&left, Ok(()), codes.iter().enumerate().map(|(i, c)| Some(reply(i, *c))).collect());
        let mut one_at_a_time: Vec<Option<Result<(), SmtpError>>> = left.iter().map(|_| None).collect();
        let mut accepted_any = false;
        for (i, c) in codes.iter().enumerate() {
            let r = reply(i, *c);
            let settled = settles(&r, accepted_any);
            accepted_any |= r.is_ok();
            one_at_a_time[i] = Some(r);
            if settled {
                break;
            }
        }
        let single = decide(&left, Ok(()), one_at_a_time);
        assert_eq!(verdict_of(&group), *expected, "group, {codes:?}");
        assert_eq!(verdict_of(&single), *expected, "one at a time, {codes:?}");
    }
    // Too many after one was taken: the taken one goes now, the rest in a further
    // transaction; one at a time has not asked for the third, a group has its answer.
    let left: Vec<(Address, Address)> = (0..3).map(|i| (addr(i), addr(i))).collect();
    let single = decide(&left, Ok(()), vec![Some(reply(0, 250)), Some(reply(1, 452)), None]).unwrap();
    assert_eq!(single, Taken { accepted: vec![addr(0)], rest: vec![left[1].clone(), left[2].clone()] });
    let group = decide(&left, Ok(()), vec![Some(reply(0, 250)), Some(reply(1, 452)), Some(reply(2, 452))]).unwrap();
    assert_eq!(group, Taken { accepted: vec![addr(0)], rest: vec![left[1].clone(), left[2].clone()] });
    // MAIL FROM refused: that refusal, whatever the recipients said.
    let mail = Err(SmtpError::Rejected { stage: Stage::MailFrom, code: 553, reply: "553 no".into() });
    assert_eq!(verdict_of(&decide(&left, mail, vec![None, None, None])), Err((Stage::MailFrom, 553)));
}

#[test]
fn size_keyword() {
    assert_eq!(parse_size("SIZE 10240000"), Some(10_240_000));
    assert_eq!(parse_size("size"), Some(0));
    assert_eq!(parse_size("PIPELINING"), None);
    assert_eq!(parse_size("SIZEX 5"), None);
}

#[test]
fn relay_refusal_in_every_dialect() {
    for (code, text) in [
        (454, "454 4.7.1 <a@example.net>: Relay access denied"),
        (554, "554 5.7.1 <a@example.net>: Relay access denied"),
        (550, "550 5.7.1 <a@example.net>... Relaying denied"),
        (550, "550 relay not permitted"),
        (553, "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),
        (550, "550 5.7.1 Unable to relay"),
        (513, "513 Relaying denied."),
        (550, "550 5.7.1 Relaying not allowed for this client"),
        (550, "550 5.7.0 Relaying not permitted"),
        (553, "553 5.7.1 <a@example.net>: Client host rejected: Access denied"),
        (550, "550 5.7.1 you must get POP/APOP authorization"),
        (554, "554 Relay operation rejected"),
    ] {
        assert!(is_relay_refusal(code, text), "{text}");
    }
}

#[test]
fn other_refusals_are_not_relay() {
    for (code, text) in [
        (550, "550 5.1.1 <nobody@example.ac.jp>: Recipient address rejected: User unknown"),
        (552, "552 5.3.4 Message size exceeds fixed limit"),
        (450, "450 4.2.0 <a@b>: Recipient address rejected: Greylisted"),
        (250, "250 2.1.5 Ok relay"),
    ] {
        assert!(!is_relay_refusal(code, text), "{text}");
    }
}

#[test]
fn relay_refusal_is_temporary_but_unknown_user_is_permanent() {
    let relay = SmtpError::Rejected {
        stage: Stage::RcptTo("a@example.net".into()),
        code: 554,
        reply: "554 5.7.1 <a@example.net>: Relay access denied".into(),
    };
    assert!(relay.is_relay_denied());
    assert_eq!(crate::problem::classify::classify(&relay).severity(), Severity::Temporary);
    let unknown = SmtpError::Rejected {
        stage: Stage::RcptTo("a@example.net".into()),
        code: 550,
        reply: "550 5.1.1 User unknown".into(),
    };
    assert!(!unknown.is_relay_denied());
    assert_eq!(crate::problem::classify::classify(&unknown).severity(), Severity::Permanent);
    let busy = SmtpError::Rejected { stage: Stage::MailFrom, code: 421, reply: "421 busy".into() };
    assert_eq!(crate::problem::classify::classify(&busy).severity(), Severity::Temporary);
    let auth = SmtpError::Rejected { stage: Stage::Auth, code: 535, reply: "535 5.7.8 bad".into() };
    assert_eq!(crate::problem::classify::classify(&auth).severity(), Severity::NeedsUser);
}

#[test]
fn policy_and_too_many() {
    assert!(is_policy_refusal(550, "550 5.7.1 Policy rejection"));
    assert!(!is_policy_refusal(550, "550 5.1.1 User unknown"));
    assert!(!is_policy_refusal(550, "550 text mentioning 5.7.1 later"));
    assert!(is_too_many_recipients(452, "452 4.5.3 Error: too many recipients"));
    assert!(is_too_many_recipients(452, "452 Too many recipients"));
    assert!(!is_too_many_recipients(452, "452 4.2.2 Mailbox full"));
    assert!(!is_too_many_recipients(552, "552 5.5.3 too many recipients"));
}

/// Issue 9, cases 13 and 16: an envelope from an older outbox row may list an address twice
/// or hold an IDN domain: one RCPT each, in punycode.
#[test]
fn wire_recipients_once_each_in_ascii() {
    let a = |s: &str| s.parse::<Address>().unwrap();
    let wire = wire_pairs(&[a("x@example.net"), a("x@EXAMPLE.net"), a("y@例え.jp"), a("y@xn--r8jz45g.jp")]).unwrap();
    let shown: Vec<String> = wire.iter().map(|(_, w)| w.to_string()).collect();
    assert_eq!(shown, vec!["x@example.net", "y@xn--r8jz45g.jp"]);
}
