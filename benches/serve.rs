//! placeholder; completed below
#[path = "support/corpus.rs"]
mod corpus;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        let dir = std::path::PathBuf::from(&args[i + 1]);
        let n: usize = args[i + 2].parse().unwrap();
        corpus::generate(&dir, n).unwrap();
    }
}
