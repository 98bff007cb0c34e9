// Re-rounds a JSON number the way serde_json (the `tokenizers` crate's JSON reader) parses it by default.
#pragma once

namespace tessera::lm::tok {

// d: the correctly rounded value of a JSON number written in shortest form. serde_json's default parser
// converts the decimal significand to f64 and then scales by a power of ten (two roundings), which can differ
// from d by an ulp; Unigram near-ties depend on it.
double serde_json_float(double d);

}  // namespace tessera::lm::tok
