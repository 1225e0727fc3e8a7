#include "foresight/remote_read/codec.h"

#include <snappy.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "foresight/remote_read/crc32c.h"
#include "foresight/remote_read/xor_chunk.h"
#include "remote.pb.h"
#include "types.pb.h"

namespace foresight::remote_read {
namespace {

prometheus::LabelMatcher::Type ToProto(MatchType t) {
  switch (t) {
    case MatchType::kEqual: return prometheus::LabelMatcher::EQ;
    case MatchType::kNotEqual: return prometheus::LabelMatcher::NEQ;
    case MatchType::kRegexMatch: return prometheus::LabelMatcher::RE;
    case MatchType::kRegexNoMatch: return prometheus::LabelMatcher::NRE;
  }
  return prometheus::LabelMatcher::EQ;
}

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

template <typename ProtoLabels>
Labels ToLabels(const ProtoLabels& in) {
  Labels out;
  out.reserve(static_cast<size_t>(in.size()));
  for (const auto& l : in) out.push_back({l.name(), l.value()});
  if (!std::is_sorted(out.begin(), out.end(),
                      [](const Label& a, const Label& b) { return a.name < b.name; })) {
    std::sort(out.begin(), out.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
  }
  return out;
}

template <typename ProtoLabels>
bool SameLabels(const Labels& a, const ProtoLabels& b) {
  if (a.size() != static_cast<size_t>(b.size())) return false;
  // Prometheus sends labels sorted; an unsorted set compares unequal here and only costs an
  // unmerged split, never a wrong merge.
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& l = b[static_cast<int>(i)];
    if (a[i].name != l.name() || a[i].value != l.value()) return false;
  }
  return true;
}

// Puts samples in timestamp order and drops repeated timestamps, keeping the sample that came
// first in the response (overlapping chunks repeat samples).
void SortAndDedupe(Series* s, DecodeStats* stats) {
  const size_t n = s->timestamps_ms.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [s](uint32_t a, uint32_t b) {
    return s->timestamps_ms[a] < s->timestamps_ms[b];
  });
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ts.reserve(n);
  vs.reserve(n);
  for (uint32_t i : order) {
    if (!ts.empty() && ts.back() == s->timestamps_ms[i]) {
      ++stats->samples_duplicate;
      continue;
    }
    ts.push_back(s->timestamps_ms[i]);
    vs.push_back(s->values[i]);
  }
  s->timestamps_ms = std::move(ts);
  s->values = std::move(vs);
}

}  // namespace

Result<std::string> SerializeReadRequest(std::span<const Query> queries,
                                         std::span<const ResponseType> accepted) {
  if (queries.empty()) return InvalidArgument("a read request needs at least one query");
  prometheus::ReadRequest req;
  for (size_t i = 0; i < queries.size(); ++i) {
    const Query& q = queries[i];
    if (q.matchers.empty()) {
      return InvalidArgument("query " + std::to_string(i) + " has no matchers");
    }
    if (q.start_ms > q.end_ms) {
      return InvalidArgument("query " + std::to_string(i) + ": start " + std::to_string(q.start_ms) +
                             " ms is after end " + std::to_string(q.end_ms) + " ms");
    }
    prometheus::Query* pq = req.add_queries();
    pq->set_start_timestamp_ms(q.start_ms);
    pq->set_end_timestamp_ms(q.end_ms);
    for (const Matcher& m : q.matchers) {
      prometheus::LabelMatcher* pm = pq->add_matchers();
      pm->set_type(ToProto(m.type));
      pm->set_name(m.name);
      pm->set_value(m.value);
    }
    if (q.hints) {
      prometheus::ReadHints* h = pq->mutable_hints();
      h->set_step_ms(q.hints->step_ms);
      h->set_func(q.hints->func);
      h->set_start_ms(q.hints->start_ms);
      h->set_end_ms(q.hints->end_ms);
      for (const std::string& g : q.hints->grouping) h->add_grouping(g);
      h->set_by(q.hints->by);
      h->set_range_ms(q.hints->range_ms);
    }
  }
  for (ResponseType t : accepted) {
    req.add_accepted_response_types(static_cast<prometheus::ReadRequest::ResponseType>(t));
  }
  std::string out;
  if (!req.SerializeToString(&out)) return Internal("could not serialize the ReadRequest");
  return out;
}

Result<std::string> EncodeReadRequest(std::span<const Query> queries,
                                      std::span<const ResponseType> accepted) {
  auto raw = SerializeReadRequest(queries, accepted);
  if (!raw.ok()) return raw.status();
  std::string compressed;
  snappy::Compress(raw->data(), raw->size(), &compressed);
  return compressed;
}

// ---------------------------------------------------------------------------------------------
// STREAMED_XOR_CHUNKS

struct ChunkedStreamDecoder::Pending {
  Series series;
  bool sorted = true;  // timestamps strictly increasing so far
};

ChunkedStreamDecoder::ChunkedStreamDecoder(std::vector<Query> queries, SeriesCallback callback,
                                           size_t max_frame_bytes, DecodeStats* stats)
    : queries_(std::move(queries)),
      callback_(std::move(callback)),
      max_frame_bytes_(max_frame_bytes),
      stats_(stats != nullptr ? stats : &own_stats_) {}

ChunkedStreamDecoder::~ChunkedStreamDecoder() { delete pending_; }

Status ChunkedStreamDecoder::Feed(std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (finished_) return FailedPrecondition("Feed after Finish");
  stats_->bytes += bytes.size();
  // Drop consumed bytes before growing, so the buffer stays about one frame long.
  if (buffer_pos_ > 0 && buffer_pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, buffer_pos_);
    buffer_pos_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  error_ = ParseFrames();
  return error_;
}

Status ChunkedStreamDecoder::ParseFrames() {
  for (;;) {
    const auto* p = reinterpret_cast<const uint8_t*>(buffer_.data()) + buffer_pos_;
    const size_t avail = buffer_.size() - buffer_pos_;
    if (avail == 0) return Status::Ok();
    uint64_t size = 0;
    size_t varint_len = 0;
    bool complete = false;
    for (size_t i = 0; i < avail && i < 10; ++i) {
      if (i == 9 && p[i] > 1) {
        return DataLoss("frame " + std::to_string(frame_index_) + " at byte offset " +
                        std::to_string(stream_offset_) + ": length varint overflows 64 bits");
      }
      size |= static_cast<uint64_t>(p[i] & 0x7f) << (7 * i);
      if ((p[i] & 0x80) == 0) {
        varint_len = i + 1;
        complete = true;
        break;
      }
    }
    if (!complete) return Status::Ok();  // wait for the rest of the length
    if (size > max_frame_bytes_) {
      return ResourceExhausted("frame " + std::to_string(frame_index_) + " at byte offset " +
                               std::to_string(stream_offset_) + ": size " + std::to_string(size) +
                               " bytes exceeds the frame limit of " +
                               std::to_string(max_frame_bytes_) + " bytes");
    }
    const size_t total = varint_len + 4 + static_cast<size_t>(size);
    if (avail < total) {
      buffer_.reserve(buffer_pos_ + total);
      return Status::Ok();  // wait for the whole frame
    }
    const uint32_t want = (static_cast<uint32_t>(p[varint_len]) << 24) |
                          (static_cast<uint32_t>(p[varint_len + 1]) << 16) |
                          (static_cast<uint32_t>(p[varint_len + 2]) << 8) | p[varint_len + 3];
    std::string_view message(reinterpret_cast<const char*>(p + varint_len + 4),
                              static_cast<size_t>(size));
    const uint32_t got = Crc32c(message.data(), message.size());
    if (got != want) {
      return DataLoss("frame " + std::to_string(frame_index_) + " at byte offset " +
                      std::to_string(stream_offset_) + ": CRC-32C mismatch: header says " +
                      Hex32(want) + ", message has " + Hex32(got));
    }
    FORESIGHT_RETURN_IF_ERROR(HandleFrame(message));
    ++stats_->frames;
    ++frame_index_;
    buffer_pos_ += total;
    stream_offset_ += total;
  }
}

Status ChunkedStreamDecoder::HandleFrame(std::string_view message) {
  prometheus::ChunkedReadResponse frame;
  if (!frame.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    return DataLoss("frame " + std::to_string(frame_index_) + " at byte offset " +
                    std::to_string(stream_offset_) + ": bad protobuf ChunkedReadResponse (" +
                    std::to_string(message.size()) + " bytes)");
  }
  if (frame.query_index() < 0 || static_cast<uint64_t>(frame.query_index()) >= queries_.size()) {
    return DataLoss("frame " + std::to_string(frame_index_) + ": query_index " +
                    std::to_string(frame.query_index()) + " is out of range for a request of " +
                    std::to_string(queries_.size()) + " queries");
  }
  const size_t qi = static_cast<size_t>(frame.query_index());
  const Query& q = queries_[qi];
  for (prometheus::ChunkedSeries& cs : *frame.mutable_chunked_series()) {
    if (pending_ == nullptr || pending_->series.query_index != qi ||
        !SameLabels(pending_->series.labels, cs.labels())) {
      FORESIGHT_RETURN_IF_ERROR(FlushPending());
      pending_ = new Pending();
      pending_->series.query_index = qi;
      pending_->series.labels = ToLabels(cs.labels());
    }
    Series& s = pending_->series;
    for (int ci = 0; ci < cs.chunks_size(); ++ci) {
      const prometheus::Chunk& chunk = cs.chunks(ci);
      switch (static_cast<int>(chunk.type())) {
        case prometheus::Chunk::XOR: break;
        case prometheus::Chunk::HISTOGRAM:
        case prometheus::Chunk::FLOAT_HISTOGRAM:
          ++stats_->skipped_histogram_chunks;
          continue;
        default:
          ++stats_->skipped_unknown_chunks;
          continue;
      }
      // Chunks that lie wholly outside the query need no decoding.
      if (chunk.max_time_ms() < q.start_ms || chunk.min_time_ms() > q.end_ms) {
        XorChunkIterator it(chunk.data());
        stats_->samples_out_of_range += it.num_samples();
        ++stats_->chunks;
        continue;
      }
      XorChunkIterator it(chunk.data());
      while (it.Next()) {
        const int64_t t = it.timestamp();
        if (t < q.start_ms || t > q.end_ms) {
          ++stats_->samples_out_of_range;
          continue;
        }
        if (!s.timestamps_ms.empty() && t <= s.timestamps_ms.back()) pending_->sorted = false;
        s.timestamps_ms.push_back(t);
        s.values.push_back(it.value());
      }
      if (!it.status().ok()) {
        return it.status().WithContext("frame " + std::to_string(frame_index_) + ", series " +
                                       SeriesName(s.labels) + ", chunk " + std::to_string(ci));
      }
      ++stats_->chunks;
    }
  }
  return Status::Ok();
}

Status ChunkedStreamDecoder::FlushPending() {
  if (pending_ == nullptr) return Status::Ok();
  Pending* p = pending_;
  pending_ = nullptr;
  if (!p->sorted) SortAndDedupe(&p->series, stats_);
  Series s = std::move(p->series);
  delete p;
  ++stats_->series;
  stats_->samples += s.timestamps_ms.size();
  ++series_emitted_;
  return callback_(std::move(s));
}

Status ChunkedStreamDecoder::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return Status::Ok();
  finished_ = true;
  const size_t left = buffer_.size() - buffer_pos_;
  if (left > 0) {
    error_ = DataLoss("truncated frame " + std::to_string(frame_index_) + " at byte offset " +
                      std::to_string(stream_offset_) + ": the stream ended " +
                      std::to_string(left) + " bytes into it");
    return error_;
  }
  error_ = FlushPending();
  return error_;
}

// ---------------------------------------------------------------------------------------------
// SAMPLES

Status DecodeSamplesResponse(std::string_view body, std::span<const Query> queries,
                             size_t max_decoded_bytes, const SeriesCallback& callback,
                             DecodeStats* stats) {
  DecodeStats own;
  if (stats == nullptr) stats = &own;
  stats->bytes += body.size();
  size_t decoded_len = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &decoded_len)) {
    return DataLoss("bad snappy block in the SAMPLES response: cannot read its length header (" +
                    std::to_string(body.size()) + " bytes)");
  }
  if (decoded_len > max_decoded_bytes) {
    return ResourceExhausted("SAMPLES response decodes to " + std::to_string(decoded_len) +
                             " bytes, over the limit of " + std::to_string(max_decoded_bytes) +
                             " bytes");
  }
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
    return DataLoss("bad snappy data in the SAMPLES response (" + std::to_string(body.size()) +
                    " bytes)");
  }
  prometheus::ReadResponse resp;
  if (!resp.ParseFromString(raw)) {
    return DataLoss("bad protobuf ReadResponse in the SAMPLES response (" +
                    std::to_string(raw.size()) + " bytes after snappy)");
  }
  std::string().swap(raw);
  if (static_cast<size_t>(resp.results_size()) != queries.size()) {
    return DataLoss("SAMPLES response has " + std::to_string(resp.results_size()) +
                    " results for a request of " + std::to_string(queries.size()) + " queries");
  }
  for (int qi = 0; qi < resp.results_size(); ++qi) {
    const Query& q = queries[static_cast<size_t>(qi)];
    auto* tss = resp.mutable_results(qi)->mutable_timeseries();
    for (prometheus::TimeSeries& ts : *tss) {
      Series s;
      s.query_index = static_cast<size_t>(qi);
      s.labels = ToLabels(ts.labels());
      s.timestamps_ms.reserve(static_cast<size_t>(ts.samples_size()));
      s.values.reserve(static_cast<size_t>(ts.samples_size()));
      bool sorted = true;
      for (const prometheus::Sample& smp : ts.samples()) {
        if (smp.timestamp() < q.start_ms || smp.timestamp() > q.end_ms) {
          ++stats->samples_out_of_range;
          continue;
        }
        if (!s.timestamps_ms.empty() && smp.timestamp() <= s.timestamps_ms.back()) sorted = false;
        s.timestamps_ms.push_back(smp.timestamp());
        s.values.push_back(smp.value());
      }
      stats->skipped_histogram_samples += static_cast<uint64_t>(ts.histograms_size());
      // Release this series' protobuf memory before handing it on.
      ts.Clear();
      if (!sorted) SortAndDedupe(&s, stats);
      ++stats->series;
      stats->samples += s.timestamps_ms.size();
      FORESIGHT_RETURN_IF_ERROR(callback(std::move(s)));
    }
  }
  return Status::Ok();
}

}  // namespace foresight::remote_read
