use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("triage-relay").chain(args.iter().copied()))
}

#[test]
fn roles_may_be_repeated_or_comma_separated() {
    for args in [
        &[
            "technician",
            "add",
            "carol",
            "--role",
            "l1",
            "--role",
            "admin",
            "--pubkey",
            "k.pub",
        ][..],
        &[
            "technician",
            "add",
            "carol",
            "--role",
            "l1,admin",
            "--pubkey",
            "k.pub",
        ][..],
    ] {
        let Command::Technician(TechnicianCommand::Add { roles, .. }) =
            parse(args).unwrap().command
        else {
            panic!("not technician add")
        };
        assert_eq!(roles, [Role::L1, Role::Admin]);
    }
    assert!(parse(&["technician", "add", "carol", "--pubkey", "k.pub"]).is_err());
    assert!(parse(&[
        "technician",
        "add",
        "carol",
        "--role",
        "root",
        "--pubkey",
        "k.pub"
    ])
    .is_err());
}

#[test]
fn token_defaults_to_one_use_for_an_hour() {
    let Command::Token { uses, ttl, .. } = parse(&["token"]).unwrap().command else {
        panic!("not token")
    };
    assert_eq!((uses, ttl), (1, Duration::from_secs(3600)));
    let Command::Token { uses, ttl, .. } = parse(&["token", "--uses", "5", "--ttl", "7d"])
        .unwrap()
        .command
    else {
        panic!("not token")
    };
    assert_eq!((uses, ttl), (5, Duration::from_secs(7 * 86_400)));
    assert!(parse(&["token", "--ttl", "soon"]).is_err());
}

#[test]
fn public_key_is_read_from_a_keygen_file_or_given_inline() {
    let key = triage_shared::identity::KeyPair::generate().public_key();
    assert_eq!(read_public_key(&key.to_string()).unwrap(), key);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("carol.pub");
    std::fs::write(&file, format!("Your public key:\n{key}\n")).unwrap();
    assert_eq!(read_public_key(file.to_str().unwrap()).unwrap(), key);
    std::fs::write(&file, "nothing").unwrap();
    let err = read_public_key(file.to_str().unwrap()).unwrap_err();
    assert!(format!("{err:#}").contains("triage keygen"), "{err:#}");
}

#[test]
fn serve_and_quickstart_have_sensible_defaults() {
    let Command::Serve {
        listen,
        public_addr,
        ..
    } = parse(&["serve"]).unwrap().command
    else {
        panic!()
    };
    assert_eq!(listen, "0.0.0.0:4433".parse().unwrap());
    assert_eq!(public_addr, None);
    let Command::Quickstart { data_dir, listen } = parse(&["quickstart"]).unwrap().command else {
        panic!()
    };
    assert_eq!(
        (data_dir, listen),
        (
            PathBuf::from("triage-local"),
            "127.0.0.1:4433".parse().unwrap()
        )
    );
}

#[test]
fn token_still_mints_bare_and_also_lists_and_revokes() {
    assert!(matches!(
        parse(&["token", "--uses", "2"]).unwrap().command,
        Command::Token {
            action: None,
            uses: 2,
            ..
        }
    ));
    assert!(matches!(
        parse(&["token", "list", "--json"]).unwrap().command,
        Command::Token {
            action: Some(TokenCommand::List { json: true, .. }),
            ..
        }
    ));
    match parse(&["token", "revoke", "abcdef12"]).unwrap().command {
        Command::Token {
            action: Some(TokenCommand::Revoke { id, .. }),
            ..
        } => assert_eq!(id, "abcdef12"),
        _ => panic!("not token revoke"),
    }
    assert!(parse(&["token", "revoke"]).is_err(), "revoke needs an id");
}

#[test]
fn technician_remove_and_roles_parse_and_roles_are_required() {
    assert!(matches!(
        parse(&["technician", "remove", "carol"]).unwrap().command,
        Command::Technician(TechnicianCommand::Remove { .. })
    ));
    let Command::Technician(TechnicianCommand::Roles { name, roles, .. }) =
        parse(&["technician", "roles", "carol", "--role", "l1,l2"])
            .unwrap()
            .command
    else {
        panic!("not technician roles")
    };
    assert_eq!((name.as_str(), roles), ("carol", vec![Role::L1, Role::L2]));
    assert!(parse(&["technician", "roles", "carol"]).is_err());
    assert!(parse(&["technician", "roles", "carol", "--role", "root"]).is_err());
}
