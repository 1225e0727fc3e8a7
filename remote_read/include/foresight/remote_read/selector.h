#pragma once

// A parser for PromQL vector selectors, the form users write in --match and in configs:
//   metric{a="b",c!="d",e=~"f.*",g!~"h"}   metric   {__name__=~"node_.*",job="x"}
// Strings take double quotes, single quotes or backticks, with Go escape sequences in the first
// two. No range, offset or @ modifier: those belong to queries, not to series selection.

#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/remote_read/types.h"

namespace foresight::remote_read {

// On error the message names the byte offset and shows the selector with a caret under the
// bad character, e.g.
//   bad selector at offset 8: expected '=', '!=', '=~' or '!~' after label name "a"
//     metric{a~"b"}
//             ^
// A selector must have at least one matcher that does not match the empty string, as in PromQL.
Result<std::vector<Matcher>> ParseSelector(std::string_view text);

}  // namespace foresight::remote_read
