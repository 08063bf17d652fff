//! The `mnemo eval` command line: what parses, what is refused.

use clap::Parser;
use mnemo_eval::EvalCommand;
use mnemo_eval::locomo::Mode;

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: EvalCommand,
}

fn parse(args: &str) -> Result<EvalCommand, String> {
    Cli::try_parse_from(std::iter::once("mnemo-eval").chain(args.split_whitespace()))
        .map(|cli| cli.command)
        .map_err(|e| e.kind().to_string())
}

#[test]
fn command_lines() {
    match parse("locomo --data d.json --out o").unwrap() {
        EvalCommand::Locomo(args) => {
            let options = args.options();
            assert_eq!(options.mode, Mode::Turns);
            assert!(options.llm.is_none() && options.progress);
        }
        other => panic!("{other:?}"),
    }
    match parse("locomo --data d.json --mode observations --out o --quiet").unwrap() {
        EvalCommand::Locomo(args) => {
            assert_eq!(args.options().mode, Mode::Observations);
            assert!(!args.options().progress);
        }
        other => panic!("{other:?}"),
    }
    match parse("locomo --data d --out o --llm --base-url http://x/v1 --model m --api-key k")
        .unwrap()
    {
        EvalCommand::Locomo(args) => {
            let llm = args.options().llm.unwrap();
            assert_eq!(
                (llm.model.as_str(), llm.api_key.as_deref()),
                ("m", Some("k"))
            );
        }
        other => panic!("{other:?}"),
    }
    match parse("scale --relations 1000 --out o").unwrap() {
        EvalCommand::Scale(args) => assert_eq!(args.options(None).relations, 1000),
        other => panic!("{other:?}"),
    }
    // --llm needs an endpoint and a model; a mode must be known; --out is required.
    assert!(parse("locomo --data d --out o --llm").is_err());
    assert!(parse("locomo --data d --out o --mode sessions").is_err());
    assert!(parse("locomo --data d").is_err());
    assert!(parse("scale --relations many --out o").is_err());
}
