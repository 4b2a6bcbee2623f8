# Test stand-in for Omnibus GitLab's settings DSL in strict mode: it reads a gitlab.rb the way
# `gitlab-ctl reconfigure` does (Ruby, instance_eval'd on the settings object) and prints what the
# file set. Written for this project's tests; it is not Omnibus code and knows only what the tests need.
#
# Facts it encodes (omnibus-gitlab 18.11):
#   - gitlab.rb is plain Ruby, evaluated with instance_eval on the settings object.
#   - external_url and mattermost_external_url are config options set in method-call form:
#     external_url "https://gitlab.example.com".
#   - Services are configured through attribute blocks, which behave like hashes:
#     gitlab_rails['initial_root_password'] = "...".
#   - Strict mode: any other top-level name is fatal, as Mixlib::Config's
#     UnknownConfigOptionError "Reading unsupported config value <name>."
#   - attribute('grafana') was removed in 17.1 (omnibus 2bb9ea5d): from 17.1 on, a grafana[...] line
#     fails like any other unknown name.
#   - Bundled Mattermost was removed in 19.0 (omnibus 48713b99): a mattermost[...] line makes reconfigure
#     abort ("Removed configurations found in gitlab.rb"); mattermost_nginx stays registered and is
#     ignored; mattermost_external_url is only deprecated (removal planned for 20.0).
#
# Usage: ruby omnibus_dsl.rb <gitlab.rb> <version x.y.z>
# Prints {"external_url": ..., "gitlab_rails": {...}, ...} as JSON on stdout, only the names the file
# set. On any error, prints it on stderr and exits 1.

require "json"

class UnknownConfigOptionError < StandardError; end

class OmnibusSettings
  URL_OPTIONS = %w[external_url mattermost_external_url].freeze

  BLOCKS = %w[
    gitlab_rails mattermost mattermost_nginx nginx letsencrypt redis postgresql postgres_exporter
    prometheus_monitoring alertmanager gitlab_exporter gitlab_kas node_exporter prometheus
    redis_exporter gitaly puma sidekiq
  ].freeze

  GRAFANA_REMOVED_IN = [17, 1, 0].freeze
  MATTERMOST_REMOVED_IN = [19, 0, 0].freeze

  def initialize(version)
    @urls = {}
    names = BLOCKS.dup
    names << "grafana" if (version <=> GRAFANA_REMOVED_IN).negative?
    names.delete("mattermost") unless (version <=> MATTERMOST_REMOVED_IN).negative?
    @blocks = names.to_h { |name| [name, {}] }
    @blocks.each { |name, block| define_singleton_method(name) { block } }
  end

  # `external_url "x"` sets the option; a bare `external_url` reads it.
  URL_OPTIONS.each do |name|
    define_method(name) do |*args|
      raise ArgumentError, "#{name} takes one value, got #{args.length}" if args.length > 1

      @urls[name] = args.first if args.length == 1
      @urls[name]
    end
  end

  def method_missing(name, *args)
    action = args.empty? ? "Reading" : "Cannot set"
    raise UnknownConfigOptionError, "#{action} unsupported config value #{name}."
  end

  def respond_to_missing?(_name, _include_private = false)
    false
  end

  def to_h
    @urls.merge(@blocks.reject { |_, block| block.empty? })
  end
end

def parse_version(text)
  match = /\A(\d+)\.(\d+)\.(\d+)\z/.match(text.to_s)
  abort "usage: ruby omnibus_dsl.rb <gitlab.rb> <version x.y.z>; got version #{text.inspect}" unless match
  match.captures.map(&:to_i)
end

abort "usage: ruby omnibus_dsl.rb <gitlab.rb> <version x.y.z>" unless ARGV.length == 2
path, version_text = ARGV
settings = OmnibusSettings.new(parse_version(version_text))
begin
  settings.instance_eval(File.read(path, encoding: "UTF-8"), path)
rescue StandardError, ScriptError => e
  where = e.backtrace&.find { |line| line.start_with?(path) }
  warn "#{e.class}: #{e.message}#{where ? " (at #{where})" : ""}"
  exit 1
end
# ascii_only keeps stdout independent of the locale; JSON readers decode the \u escapes.
puts JSON.generate(settings.to_h, ascii_only: true)
