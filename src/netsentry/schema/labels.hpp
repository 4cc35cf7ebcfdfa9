#pragma once
// The classes of a target column and which of them are threats.
//
// A target value (text or number, as written in the data) maps to a class: through `label_groups`
// (many attack names -> one class), through `label_mapping` (value -> class index), or, with
// neither, one class per distinct value of the training data (sorted; numbers numerically). One
// class is the threat (`positive_class`), or every class but the benign ones (`benign_classes`).
//
// Two classes are always held with the benign class at index 0 and the threat at index 1, whatever
// indices a label_mapping gives them: a binary model's P(class 1) is then the probability of a
// threat, and every binary metric, threshold and gate scores the threat class.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

// What the configuration says about the target (data.* keys); every part may be empty.
struct LabelSpec {
  std::map<std::string, int> mapping;                      // target value -> class index
  std::map<std::string, std::vector<std::string>> groups;  // class name -> target values
  std::string positive_class;                              // the threat class (binary)
  std::vector<std::string> benign_classes;                 // every other class is a threat
};

class LabelSpace {
 public:
  // The classes for `spec` and the target column of the training rows `train`; UsageError naming the
  // key when the spec contradicts itself or names a class the data does not have, DataError naming
  // the row of a training value no mapping or group knows.
  static LabelSpace derive(const LabelSpec& spec, const Table& train, const std::string& target);

  std::size_t size() const { return classes_.size(); }
  bool binary() const { return classes_.size() == 2; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& name(int cls) const { return classes_.at(static_cast<std::size_t>(cls)); }
  bool is_threat(int cls) const { return threat_.at(static_cast<std::size_t>(cls)); }
  std::vector<std::string> threat_classes() const;
  // The class a target value maps to, nullopt when no mapping or group knows it.
  std::optional<int> index_of(std::string_view value) const;

  struct Encoded {
    Labels y;                  // class per row; -1 where the value is unmapped (when allowed)
    std::size_t unmapped = 0;  // rows whose target value no class knows
    std::map<std::string, std::size_t> unmapped_values;  // value -> rows
  };
  // The class of every row of `t`'s target column. A missing value is always a DataError naming the
  // row; an unknown value is one too unless `allow_unmapped` (a test period's new attack names),
  // when it is counted and given -1.
  Encoded encode(const Table& t, const std::string& target, bool allow_unmapped = false) const;
  // The same, throwing on any unknown value.
  Labels labels(const Table& t, const std::string& target) const { return encode(t, target).y; }

  // {"classes": [...], "threat_classes": [...], "values": {value: class index}}.
  nlohmann::json to_json() const;
  static LabelSpace from_json(const nlohmann::json& j);  // DataError on a malformed object
  // Bundles written before classes were recorded: {value: index} with the threat at index 0 (the
  // reference project's convention, which its configuration documented). The only spaces whose
  // threat is not class 1.
  static LabelSpace legacy(const std::map<std::string, int>& mapping);

 private:
  std::vector<std::string> classes_;
  std::vector<bool> threat_;
  std::map<std::string, int> values_;  // every known target value -> its class
  int catch_all_ = -1;                 // the class of every other value (label_groups "*"), or -1
};

}  // namespace netsentry
