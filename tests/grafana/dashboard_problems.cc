#include "dashboard_problems.h"

#include <regex>
#include <set>

#include "grafana_queries.h"

namespace foresight::testing {
namespace {

using nlohmann::json;

constexpr int kMinSchemaVersion = 39;  // Grafana 11.0
constexpr size_t kMaxUidLength = 40;   // Grafana refuses longer uids
constexpr int kGridColumns = 24;
const char kTitlePrefix[] = "Foresight / ";
const char kDatasourceUid[] = "${datasource}";

std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  return (it != object.end() && it->is_string()) ? it->get<std::string>() : "";
}

std::string PanelName(const json& panel) {
  auto id = panel.find("id");
  std::string name = "panel " + ((id != panel.end() && !id->is_null()) ? id->dump() : "?");
  if (const std::string title = Str(panel, "title"); !title.empty()) {
    name += " \"" + title + "\"";
  }
  return name;
}

// "" when `ds` is {"type": "prometheus", "uid": "${datasource}"}, else what it is instead.
std::string DatasourceProblem(const json& object) {
  auto ds = object.find("datasource");
  if (ds == object.end()) {
    return "has no datasource";
  }
  if (!ds->is_object() || Str(*ds, "type") != "prometheus" || Str(*ds, "uid") != kDatasourceUid) {
    return "has datasource " + ds->dump() + ", not {\"type\": \"prometheus\", \"uid\": \"" +
           std::string(kDatasourceUid) + "\"}";
  }
  return "";
}

// Every panel, rows and the panels inside collapsed rows included, in order.
void CollectPanels(const json& panels, std::vector<const json*>& out,
                   std::vector<std::string>& problems) {
  if (!panels.is_array()) {
    problems.push_back("panels is not an array");
    return;
  }
  for (const json& panel : panels) {
    if (!panel.is_object()) {
      problems.push_back("a panel is not an object");
      continue;
    }
    out.push_back(&panel);
    if (auto nested = panel.find("panels"); nested != panel.end()) {
      CollectPanels(*nested, out, problems);
    }
  }
}

void CheckPanel(const json& panel, std::vector<std::string>& problems) {
  const std::string name = PanelName(panel);
  if (auto grid = panel.find("gridPos"); grid == panel.end() || !grid->is_object()) {
    problems.push_back(name + ": has no gridPos");
  } else {
    const int x = grid->value("x", -1);
    const int w = grid->value("w", 0);
    if (x < 0 || w < 1 || x + w > kGridColumns) {
      problems.push_back(name + ": gridPos x " + std::to_string(x) + " w " + std::to_string(w) +
                         " is outside the 24 columns");
    }
  }
  if (Str(panel, "type") == "row") {
    return;
  }
  if (const std::string p = DatasourceProblem(panel); !p.empty()) {
    problems.push_back(name + ": " + p);
  }
  if (Str(panel, "description").empty()) {
    problems.push_back(name + ": has no description");
  }
  auto targets = panel.find("targets");
  if (targets == panel.end() || !targets->is_array() || targets->empty()) {
    problems.push_back(name + ": has no targets");
    return;
  }
  std::set<std::string> ref_ids;
  std::set<std::string> legends;
  for (size_t i = 0; i < targets->size(); ++i) {
    const json& target = (*targets)[i];
    const std::string ref = target.is_object() ? Str(target, "refId") : "";
    const std::string where = name + " target " + (ref.empty() ? "#" + std::to_string(i) : ref);
    if (!target.is_object()) {
      problems.push_back(where + ": is not an object");
      continue;
    }
    if (ref.empty()) {
      problems.push_back(where + ": has no refId");
    } else if (!ref_ids.insert(ref).second) {
      problems.push_back(where + ": duplicate refId " + ref);
    }
    if (const std::string p = DatasourceProblem(target); !p.empty()) {
      problems.push_back(where + ": " + p);
    }
    if (Str(target, "expr").empty()) {
      problems.push_back(where + ": has no expr");
    }
    legends.insert(Str(target, "legendFormat"));
  }
  // The band is drawn between two fields named by their legends: a renamed legend silently
  // loses the fill.
  auto field_config = panel.find("fieldConfig");
  if (field_config == panel.end() || !field_config->is_object()) {
    return;
  }
  auto overrides = field_config->find("overrides");
  if (overrides == field_config->end() || !overrides->is_array()) {
    return;
  }
  for (const json& o : *overrides) {
    auto properties = o.find("properties");
    if (!o.is_object() || properties == o.end() || !properties->is_array()) {
      continue;
    }
    for (const json& p : *properties) {
      if (p.is_object() && Str(p, "id") == "custom.fillBelowTo" &&
          !legends.contains(Str(p, "value"))) {
        problems.push_back(name + ": custom.fillBelowTo \"" + Str(p, "value") +
                           "\" is not the legendFormat of any of its targets");
      }
    }
  }
}

void CheckTemplating(const json& dashboard, std::set<std::string>& defined,
                     std::vector<std::string>& problems) {
  auto templating = dashboard.find("templating");
  const json* list = nullptr;
  if (templating != dashboard.end() && templating->is_object()) {
    if (auto it = templating->find("list"); it != templating->end() && it->is_array()) {
      list = &*it;
    }
  }
  if (list == nullptr) {
    problems.push_back("templating.list is missing");
    return;
  }
  bool has_datasource = false;
  for (const json& v : *list) {
    const std::string name = v.is_object() ? Str(v, "name") : "";
    if (name.empty()) {
      problems.push_back("a templating variable has no name");
      continue;
    }
    if (!defined.insert(name).second) {
      problems.push_back("templating " + name + ": defined twice");
    }
    const std::string type = Str(v, "type");
    if (name == "datasource") {
      if (type != "datasource" || Str(v, "query") != "prometheus") {
        problems.push_back(
            "templating datasource: is not of type datasource with query prometheus");
      } else {
        has_datasource = true;
      }
    }
    if (type == "query") {
      if (const std::string p = DatasourceProblem(v); !p.empty()) {
        problems.push_back("templating " + name + ": " + p);
      }
    }
  }
  if (!has_datasource) {
    problems.push_back("templating has no datasource variable");
  }
}

void CheckAnnotations(const json& dashboard, std::vector<std::string>& problems) {
  auto annotations = dashboard.find("annotations");
  if (annotations == dashboard.end() || !annotations->is_object()) {
    return;
  }
  auto list = annotations->find("list");
  if (list == annotations->end() || !list->is_array()) {
    problems.push_back("annotations.list is not an array");
    return;
  }
  for (const json& a : *list) {
    if (!a.is_object() || a.contains("builtIn")) {
      continue;
    }
    const std::string where = "annotation " + Str(a, "name");
    if (Str(a, "expr").empty()) {
      problems.push_back(where + ": has no expr");
    }
    if (const std::string p = DatasourceProblem(a); !p.empty()) {
      problems.push_back(where + ": " + p);
    }
  }
}

void CheckLinks(const json& dashboard, std::vector<std::string>& problems) {
  auto links = dashboard.find("links");
  if (links == dashboard.end()) {
    return;
  }
  if (!links->is_array()) {
    problems.push_back("links is not an array");
    return;
  }
  for (size_t i = 0; i < links->size(); ++i) {
    const json& link = (*links)[i];
    const std::string where = "link " + std::to_string(i);
    if (!link.is_object()) {
      problems.push_back(where + ": is not an object");
    } else if (Str(link, "type") == "link" && Str(link, "url").empty()) {
      problems.push_back(where + " \"" + Str(link, "title") + "\": has no url");
    }
  }
}

}  // namespace

bool IsGrafanaBuiltinVariable(const std::string& name) {
  static const std::set<std::string> kBuiltins = {
      "__interval", "__interval_ms", "__rate_interval",  "__rate_interval_ms",
      "__range",    "__range_s",     "__range_ms",       "__from",
      "__to",       "__timeFilter",  "__timezone",       "__dashboard",
      "__name",     "__org",         "__user",           "__auto",
      "__all",      "__url",         "__url_time_range", "__field",
      "__series",   "__value",       "__data",           "__cell",
      "timeFilter"};
  return kBuiltins.contains(name);
}

std::vector<std::string> DashboardProblems(const nlohmann::json& dashboard) {
  std::vector<std::string> problems;
  if (!dashboard.is_object()) {
    problems.push_back("dashboard is not a JSON object");
    return problems;
  }

  if (const std::string title = Str(dashboard, "title"); !title.starts_with(kTitlePrefix)) {
    problems.push_back("title \"" + title + "\" does not start with \"" + kTitlePrefix + "\"");
  }
  static const std::regex kUid("[A-Za-z0-9_-]+");
  if (const std::string uid = Str(dashboard, "uid");
      uid.size() > kMaxUidLength || !std::regex_match(uid, kUid)) {
    problems.push_back("uid \"" + uid + "\" is not 1 to 40 of [A-Za-z0-9_-]");
  }
  if (auto id = dashboard.find("id"); id != dashboard.end() && !id->is_null()) {
    problems.push_back("id is " + id->dump() + ", not null (Grafana assigns ids on import)");
  }
  bool tagged = false;
  if (auto tags = dashboard.find("tags"); tags != dashboard.end() && tags->is_array()) {
    for (const json& tag : *tags) {
      tagged = tagged || tag == "foresight";
    }
  }
  if (!tagged) {
    problems.push_back("tags do not contain \"foresight\"");
  }
  if (auto v = dashboard.find("schemaVersion");
      v == dashboard.end() || !v->is_number_integer() || v->get<int>() < kMinSchemaVersion) {
    problems.push_back("schemaVersion " + (v == dashboard.end() ? "missing" : v->dump()) +
                       " is not >= " + std::to_string(kMinSchemaVersion));
  }

  std::set<std::string> defined;
  CheckTemplating(dashboard, defined, problems);
  CheckAnnotations(dashboard, problems);
  CheckLinks(dashboard, problems);

  std::vector<const json*> panels;
  if (auto it = dashboard.find("panels"); it != dashboard.end()) {
    CollectPanels(*it, panels, problems);
  }
  if (panels.empty()) {
    problems.push_back("has no panels");
  }
  std::set<int64_t> ids;
  for (const json* panel : panels) {
    auto id = panel->find("id");
    if (id == panel->end() || !id->is_number_integer()) {
      problems.push_back(PanelName(*panel) + ": id is not an integer");
    } else if (!ids.insert(id->get<int64_t>()).second) {
      problems.push_back(PanelName(*panel) + ": duplicate panel id " + id->dump());
    }
    CheckPanel(*panel, problems);
  }

  // Any string anywhere (queries, titles, descriptions, legends, links) may refer to variables.
  // (Named: a range-for over items() of a temporary would dangle before C++23.)
  const json flat = dashboard.flatten();
  for (const auto& [pointer, value] : flat.items()) {
    if (!value.is_string()) {
      continue;
    }
    for (const std::string& name : VariableReferences(value.get<std::string>())) {
      if (!defined.contains(name) && !IsGrafanaBuiltinVariable(name)) {
        problems.push_back(pointer + ": undefined variable $" + name);
      }
    }
  }
  return problems;
}

std::vector<std::string> LinkedDashboardUids(const nlohmann::json& dashboard) {
  static const std::regex kDashboardUrl(R"((?:^|/)d/([A-Za-z0-9_-]+))");
  // Every link has a `url`: dashboard links, panel links, and field links (also those set by an
  // override, whose pointer ends in .../properties/<i>/value/<j>/url).
  std::vector<std::string> uids;
  if (!dashboard.is_object()) {
    return uids;
  }
  const json flat = dashboard.flatten();
  for (const auto& [pointer, value] : flat.items()) {
    if (!value.is_string() || !pointer.ends_with("/url")) {
      continue;
    }
    const std::string url = value.get<std::string>();
    std::smatch m;
    if (std::regex_search(url, m, kDashboardUrl)) {
      uids.push_back(m[1].str());
    }
  }
  return uids;
}

}  // namespace foresight::testing
