#include "controller/source/kube/api_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <cpprest/uri_builder.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>

namespace bpfproxy::controller::kube {

namespace http = web::http;
namespace client = web::http::client;

namespace {

// Configures each new TLS connection: our CA only (not the system store, as kubectl),
// and the client certificate. Files are read here, at each connection, so rotations apply.
void configureTls(const TlsConfig& tls, boost::asio::ssl::context& context) {
  if (!tls.certificateAuthority.empty()) {
    SSL_CTX_set_cert_store(context.native_handle(), X509_STORE_new());
    if (!tls.certificateAuthority.data.empty()) {
      context.add_certificate_authority(boost::asio::buffer(tls.certificateAuthority.data));
    } else {
      context.load_verify_file(tls.certificateAuthority.file.string());
    }
  }
  if (!tls.clientCertificate.data.empty()) {
    context.use_certificate_chain(boost::asio::buffer(tls.clientCertificate.data));
  } else if (!tls.clientCertificate.file.empty()) {
    context.use_certificate_chain_file(tls.clientCertificate.file.string());
  }
  if (!tls.clientKey.data.empty()) {
    context.use_private_key(boost::asio::buffer(tls.clientKey.data), boost::asio::ssl::context::pem);
  } else if (!tls.clientKey.file.empty()) {
    context.use_private_key_file(tls.clientKey.file.string(), boost::asio::ssl::context::pem);
  }
}

std::string credentialsOf(const ClusterConfig& config) {
  std::string what;
  if (config.token) {
    what = config.token->describe();
  }
  if (!config.tls.clientCertificate.empty()) {
    what += std::string(what.empty() ? "" : " and ") + "client certificate";
  }
  return what.empty() ? "no credentials" : what;
}

std::string stringField(const web::json::value& object, const char* key) {
  if (object.is_object() && object.has_string_field(key)) {
    return object.at(key).as_string();
  }
  return "";
}

}  // namespace

struct ApiClient::Endpoint {
  std::string url;
  std::unique_ptr<client::http_client> listClient;
};

struct ApiClient::Response {
  http::http_response response;
  std::shared_ptr<client::http_client> client;  // keeps a watch's connection alive
  std::string server;
};

std::string buildQuery(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params) {
  web::uri_builder builder(path);
  for (const auto& [key, value] : params) {
    builder.append_query(key, value, true);
  }
  return builder.to_string();
}

ApiError statusError(const web::json::value& status, int httpCode, const std::string& context) {
  int code = httpCode;
  if (status.is_object() && status.has_number_field("code")) {
    code = status.at("code").as_integer();
  }
  const std::string reason = stringField(status, "reason");
  std::string message = stringField(status, "message");
  std::string text = context + ": " + std::to_string(code);
  if (!reason.empty()) {
    text += " " + reason;
  }
  if (!message.empty() && message != reason) {
    text += ": " + message;
  }
  return ApiError(code, reason, text);
}

ApiClient::ApiClient(ClusterConfig config, ApiClientOptions options)
    : config_(std::move(config)), options_(std::move(options)) {
  if (config_.servers.empty()) {
    throw KubeconfigError("no API server URL");
  }
  for (const auto& url : config_.servers) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->url = url;
    client::http_client_config clientConfig;
    clientConfig.set_timeout(options_.requestTimeout);
    clientConfig.set_validate_certificates(!config_.tls.insecureSkipTlsVerify);
    const TlsConfig tls = config_.tls;
    clientConfig.set_ssl_context_callback([tls](boost::asio::ssl::context& context) { configureTls(tls, context); });
    endpoint->listClient = std::make_unique<client::http_client>(web::uri(url), clientConfig);
    endpoints_.push_back(std::move(endpoint));
  }
}

ApiClient::~ApiClient() = default;

std::string ApiClient::currentServer() const {
  return endpoints_[current_.load() % endpoints_.size()]->url;
}

ApiClient::Response ApiClient::send(const std::string& pathAndQuery, bool watch, std::chrono::seconds timeout,
                                    pplx::cancellation_token cancel, const web::json::value* body) {
  std::string errors;
  const std::size_t start = current_.load();
  for (std::size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    const std::size_t index = (start + attempt) % endpoints_.size();
    Endpoint& endpoint = *endpoints_[index];
    http::http_request request(body ? http::methods::POST : http::methods::GET);
    request.set_request_uri(pathAndQuery);
    if (body) request.set_body(*body);
    // JSON only: a watch of protobuf frames would need another decoder.
    request.headers().add("Accept", "application/json");
    request.headers().add("User-Agent", options_.userAgent);
    if (config_.token) {
      request.headers().add("Authorization", "Bearer " + config_.token->get());
    }
    try {
      std::shared_ptr<client::http_client> httpClient;
      if (watch) {
        // Its own client: the inactivity timeout must outlast the watch's quiet periods.
        client::http_client_config clientConfig;
        clientConfig.set_timeout(timeout + options_.requestTimeout);
        clientConfig.set_validate_certificates(!config_.tls.insecureSkipTlsVerify);
        const TlsConfig tls = config_.tls;
        clientConfig.set_ssl_context_callback(
            [tls](boost::asio::ssl::context& context) { configureTls(tls, context); });
        httpClient = std::make_shared<client::http_client>(web::uri(endpoint.url), clientConfig);
      }
      client::http_client& target = watch ? *httpClient : *endpoint.listClient;
      http::http_response response = target.request(request, cancel).get();
      if (response.status_code() >= 500) {
        errors += "; " + endpoint.url + ": HTTP " + std::to_string(response.status_code());
        continue;  // this one is unwell: try the next
      }
      current_ = index;
      return Response{response, httpClient, endpoint.url};
    } catch (const pplx::task_canceled&) {
      throw;
    } catch (const std::exception& e) {
      if (cancel.is_canceled()) {
        throw pplx::task_canceled();
      }
      errors += "; " + endpoint.url + ": " + e.what();
    }
  }
  // Next call starts with the next server, so a dead first URL is not always tried first.
  current_ = (start + 1) % endpoints_.size();
  throw TransportError(std::string(body ? "POST " : "GET ") + pathAndQuery.substr(0, pathAndQuery.find('?')) +
                       ": no API server answered" + errors);
}

web::json::value ApiClient::getJson(const std::string& pathAndQuery, pplx::cancellation_token cancel,
                                    const web::json::value* requestBody) {
  Response r = send(pathAndQuery, false, options_.requestTimeout, cancel, requestBody);
  const std::string method = requestBody ? "POST " : "GET ";
  web::json::value body;
  try {
    body = r.response.extract_json(true).get();
  } catch (const pplx::task_canceled&) {
    throw;
  } catch (const std::exception& e) {
    if (r.response.status_code() / 100 == 2) {
      throw TransportError(method + r.server + pathAndQuery + ": bad response body: " + e.what());
    }
  }
  if (r.response.status_code() / 100 != 2) {
    std::string context = method + r.server + pathAndQuery.substr(0, pathAndQuery.find('?'));
    if (r.response.status_code() == 401 || r.response.status_code() == 403) {
      context += " (" + credentialsOf(config_) + ")";
    }
    throw statusError(body, r.response.status_code(), context);
  }
  return body;
}

web::json::value ApiClient::create(const std::string& path, const web::json::value& body,
                                   pplx::cancellation_token cancel) {
  return getJson(path, cancel, &body);
}

ListResult ApiClient::list(const std::string& path, const Selectors& selectors, pplx::cancellation_token cancel) {
  // A continue token can expire between pages (410): start over, a few times.
  for (int round = 0;; ++round) {
    ListResult result;
    std::string continueToken;
    try {
      do {
        std::vector<std::pair<std::string, std::string>> params;
        if (options_.pageSize > 0) {
          params.emplace_back("limit", std::to_string(options_.pageSize));
        }
        if (!continueToken.empty()) {
          params.emplace_back("continue", continueToken);
        }
        if (!selectors.labelSelector.empty()) {
          params.emplace_back("labelSelector", selectors.labelSelector);
        }
        if (!selectors.fieldSelector.empty()) {
          params.emplace_back("fieldSelector", selectors.fieldSelector);
        }
        const web::json::value page = getJson(buildQuery(path, params), cancel);
        if (!page.is_object() || !page.has_object_field("metadata")) {
          throw TransportError("GET " + path + ": not a List");
        }
        const auto& metadata = page.at("metadata");
        result.resourceVersion = stringField(metadata, "resourceVersion");
        continueToken = stringField(metadata, "continue");
        if (page.has_array_field("items")) {
          for (const auto& item : page.at("items").as_array()) {
            result.items.push_back(item);
          }
        }
      } while (!continueToken.empty());
    } catch (const ApiError& e) {
      if (e.isGone() && !continueToken.empty() && round < 3) {
        continue;
      }
      throw;
    }
    return result;
  }
}

void ApiClient::watch(const std::string& path, const Selectors& selectors, const std::string& resourceVersion,
                      std::chrono::seconds timeout, const std::function<void(const WatchEvent&)>& onEvent,
                      pplx::cancellation_token cancel) {
  std::vector<std::pair<std::string, std::string>> params = {
      {"watch", "1"},
      {"resourceVersion", resourceVersion},
      {"allowWatchBookmarks", "true"},
      {"timeoutSeconds", std::to_string(timeout.count())},
  };
  if (!selectors.labelSelector.empty()) {
    params.emplace_back("labelSelector", selectors.labelSelector);
  }
  if (!selectors.fieldSelector.empty()) {
    params.emplace_back("fieldSelector", selectors.fieldSelector);
  }
  const std::string query = buildQuery(path, params);
  Response r = send(query, true, timeout, cancel);
  const std::string context = "watch " + r.server + path;
  if (r.response.status_code() != http::status_codes::OK) {
    web::json::value body;
    try {
      body = r.response.extract_json(true).get();
    } catch (const std::exception&) {
    }
    throw statusError(body, r.response.status_code(),
                      r.response.status_code() == 401 || r.response.status_code() == 403
                          ? context + " (" + credentialsOf(config_) + ")"
                          : context);
  }
  readWatchStream(r.response.body(), context, onEvent, cancel);
}

void readWatchStream(concurrency::streams::istream stream, const std::string& context,
                     const std::function<void(const WatchEvent&)>& onEvent, pplx::cancellation_token cancel) {
  // Events are decoded line by line as the chunks arrive; the response never "ends" until
  // timeoutSeconds, so waiting for the whole body is not an option.
  for (;;) {
    concurrency::streams::container_buffer<std::string> line;
    std::size_t length = 0;
    try {
      length = stream.read_line(line).get();
    } catch (const pplx::task_canceled&) {
      throw;
    } catch (const std::exception& e) {
      if (cancel.is_canceled()) {
        throw pplx::task_canceled();
      }
      throw TransportError(context + ": stream broken: " + e.what());
    }
    if (length == 0) {
      if (stream.is_eof()) {
        return;  // the server ended the watch (timeoutSeconds)
      }
      continue;  // an empty line
    }
    WatchEvent event;
    try {
      const web::json::value json = web::json::value::parse(line.collection());
      event.type = stringField(json, "type");
      event.object = json.has_field("object") ? json.at("object") : web::json::value();
    } catch (const std::exception& e) {
      throw TransportError(context + ": undecodable event: " + e.what());
    }
    if (event.type == "ERROR") {
      throw statusError(event.object, 500, context + ": ERROR event");
    }
    onEvent(event);
  }
}

}  // namespace bpfproxy::controller::kube
