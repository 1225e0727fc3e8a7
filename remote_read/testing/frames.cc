#include "frames.h"

#include <snappy.h>

#include <algorithm>

#include "foresight/remote_read/crc32c.h"
#include "remote.pb.h"
#include "xor_encoder.h"

namespace foresight::remote_read::testing {

TestChunk MakeXorChunk(const std::vector<int64_t>& timestamps, const std::vector<double>& values) {
  TestChunk c;
  c.encoding = 1;
  c.data = EncodeXorChunk(timestamps, values);
  if (!timestamps.empty()) {
    c.min_time_ms = *std::min_element(timestamps.begin(), timestamps.end());
    c.max_time_ms = *std::max_element(timestamps.begin(), timestamps.end());
  }
  return c;
}

std::string ChunkedReadResponseMessage(int64_t query_index,
                                       const std::vector<TestChunkedSeries>& series) {
  prometheus::ChunkedReadResponse msg;
  msg.set_query_index(query_index);
  for (const TestChunkedSeries& s : series) {
    prometheus::ChunkedSeries* cs = msg.add_chunked_series();
    for (const Label& l : s.labels) {
      prometheus::Label* pl = cs->add_labels();
      pl->set_name(l.name);
      pl->set_value(l.value);
    }
    for (const TestChunk& c : s.chunks) {
      prometheus::Chunk* pc = cs->add_chunks();
      pc->set_min_time_ms(c.min_time_ms);
      pc->set_max_time_ms(c.max_time_ms);
      pc->set_type(static_cast<prometheus::Chunk::Encoding>(c.encoding));
      pc->set_data(c.data);
    }
  }
  return msg.SerializeAsString();
}

std::string Frame(const std::string& message) {
  std::string out;
  uint64_t n = message.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  uint32_t crc = Crc32c(message.data(), message.size());
  out.push_back(static_cast<char>(crc >> 24));
  out.push_back(static_cast<char>(crc >> 16));
  out.push_back(static_cast<char>(crc >> 8));
  out.push_back(static_cast<char>(crc));
  out += message;
  return out;
}

std::string SamplesBody(const std::vector<std::vector<Series>>& results) {
  prometheus::ReadResponse resp;
  for (const auto& q : results) {
    prometheus::QueryResult* r = resp.add_results();
    for (const Series& s : q) {
      prometheus::TimeSeries* ts = r->add_timeseries();
      for (const Label& l : s.labels) {
        prometheus::Label* pl = ts->add_labels();
        pl->set_name(l.name);
        pl->set_value(l.value);
      }
      for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
        prometheus::Sample* smp = ts->add_samples();
        smp->set_timestamp(s.timestamps_ms[i]);
        smp->set_value(s.values[i]);
      }
    }
  }
  std::string raw = resp.SerializeAsString();
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

}  // namespace foresight::remote_read::testing
