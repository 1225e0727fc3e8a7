#pragma once

// The rules every dashboard in grafana/dashboards/ keeps, as a checker that names each broken
// rule, so that tests can feed it both the real dashboards and deliberately broken ones.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace foresight::testing {

// Grafana's built-in variables (global, data-link and field variables) that a dashboard may use
// without defining them.
bool IsGrafanaBuiltinVariable(const std::string& name);

// What is wrong with one dashboard, each problem naming where it is; empty when nothing is.
// Checks: title starts "Foresight / "; uid of [A-Za-z0-9_-], 1 to 40 characters; id null; tags
// contain "foresight"; schemaVersion >= 39; a `datasource` variable of type datasource for
// prometheus; variable names unique; query variables, annotations with an expr, every non-row
// panel and every target use {"type": "prometheus", "uid": "${datasource}"}; panel ids (nested
// ones too) unique integers; gridPos inside the 24 columns; every non-row panel has a
// description and at least one target; every target has a refId unique in its panel and a
// non-empty expr; a custom.fillBelowTo override names a legendFormat of the same panel; every
// variable referenced anywhere is defined in templating or built in; every dashboard link has a
// url. Cross-dashboard rules (unique uids, links to existing uids) need all files: see
// LinkedDashboardUids.
std::vector<std::string> DashboardProblems(const nlohmann::json& dashboard);

// The uids of the dashboards this one links to (`/d/<uid>` in a dashboard link or in a panel's or
// field's links, overrides included), with repeats, sorted by where they are.
std::vector<std::string> LinkedDashboardUids(const nlohmann::json& dashboard);

}  // namespace foresight::testing
