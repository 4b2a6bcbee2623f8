# STAND-IN for the parts of GitLab's Doorkeeper that host/ensure-oauth-application.rb uses, for tests
# only. It is NOT Doorkeeper: an in-memory, ActiveRecord-like Doorkeeper::Application and a secret
# strategy that stores a digest of the secret, as GitLab does (hashed application secrets).
#
# The test's gitlab-rails stand-in loads this file with the real ruby before the program under test.
#   FAKE_DOORKEEPER_STATE  JSON file with the rows to start from: [{"uid","name","secret","redirect_uri","scopes"}],
#                          "secret" being the stored form (see FakeSecretStrategy.stored_form). Optional.
#   FAKE_DOORKEEPER_DUMP   where the final state is written at exit:
#                          {"applications": [rows], "saves": [uids], "destroyed": [uids]}.
require 'digest'
require 'json'

module Doorkeeper
  # Stores "sha256:<hex>" instead of the plain secret, like GitLab's hashing strategies do.
  module FakeSecretStrategy
    def self.stored_form(plain)
      "sha256:#{Digest::SHA256.hexdigest(plain)}"
    end

    def self.store_secret(resource, attribute, plain)
      resource.public_send("#{attribute}=", stored_form(plain))
    end

    def self.secret_matches?(input, stored)
      !stored.nil? && stored_form(input) == stored
    end
  end

  Config = Struct.new(:application_secret_strategy)

  def self.config
    @config ||= Config.new(FakeSecretStrategy)
  end

  # What Doorkeeper::Application#scopes returns: an object whose to_s is the space-joined list.
  class FakeScopes
    def initialize(text)
      @scopes = text.to_s.split
    end

    def to_s
      @scopes.join(' ')
    end
  end

  # The table, shared by every fake record.
  module FakeTable
    class << self
      def rows
        @rows ||= load_rows
      end

      def saves
        @saves ||= []
      end

      def destroyed
        @destroyed ||= []
      end

      def dump
        path = ENV['FAKE_DOORKEEPER_DUMP']
        return if path.nil? || path.empty?

        File.write(path, JSON.generate({ 'applications' => rows, 'saves' => saves, 'destroyed' => destroyed }))
      end

      private

      def load_rows
        path = ENV['FAKE_DOORKEEPER_STATE']
        return [] if path.nil? || path.empty? || !File.exist?(path)

        JSON.parse(File.read(path)).map { |row| Application::COLUMNS.to_h { |c| [c, row[c]] } }
      end
    end
  end
  at_exit { FakeTable.dump }

  # A query: rows matching every `where` condition and none of the `where.not` ones.
  class FakeRelation
    # What `relation.where` without arguments returns, as in ActiveRecord.
    class WhereChain
      def initialize(relation)
        @relation = relation
      end

      def not(**conditions)
        @relation.add(excluded: conditions)
      end
    end

    def initialize(included = [], excluded = [])
      @included = included
      @excluded = excluded
    end

    def where(**conditions)
      conditions.empty? ? WhereChain.new(self) : add(included: conditions)
    end

    def add(included: nil, excluded: nil)
      FakeRelation.new(@included + [included].compact, @excluded + [excluded].compact)
    end

    def to_a
      FakeTable.rows
               .select { |row| @included.all? { |c| matches?(row, c) } }
               .reject { |row| @excluded.any? { |c| matches?(row, c) } }
               .map { |row| Application.send(:from_row, row) }
    end

    private

    def matches?(row, conditions)
      conditions.all? { |column, value| row[column.to_s] == value }
    end
  end

  class Application
    COLUMNS = %w[uid name secret redirect_uri scopes].freeze

    class << self
      def find_by(uid:)
        row = FakeTable.rows.find { |r| r['uid'] == uid }
        row && from_row(row)
      end

      def where(**conditions)
        FakeRelation.new.where(**conditions)
      end

      private

      def from_row(row)
        app = new
        app.instance_variable_set(:@attributes, row.dup)
        app.instance_variable_set(:@original, row.dup)
        app
      end
    end

    # A new record starts with the column defaults of Doorkeeper's schema: scopes is '' (NOT NULL).
    def initialize(uid: nil)
      @attributes = COLUMNS.to_h { |c| [c, nil] }
      @attributes['scopes'] = ''
      @attributes['uid'] = uid
      @original = nil
    end

    %w[uid name secret redirect_uri].each do |column|
      define_method(column) { @attributes[column] }
      define_method("#{column}=") { |value| @attributes[column] = value }
    end

    def scopes
      FakeScopes.new(@attributes['scopes'])
    end

    def scopes=(value)
      @attributes['scopes'] = value.to_s
    end

    def persisted?
      !@original.nil?
    end

    def changed?
      @attributes != @original
    end

    def secret_matches?(input)
      Doorkeeper.config.application_secret_strategy.secret_matches?(input, secret)
    end

    def save!
      # Doorkeeper's schema: every column is NOT NULL; uid, secret, name and redirect_uri must be present.
      missing = COLUMNS.select { |c| @attributes[c].nil? || (c != 'scopes' && @attributes[c].to_s.empty?) }
      raise "fake Doorkeeper::Application: #{missing.join(', ')} missing" unless missing.empty?

      rows = FakeTable.rows
      index = rows.index { |r| r['uid'] == (@original || @attributes)['uid'] }
      if persisted?
        rows[index] = @attributes.dup
      else
        raise "fake Doorkeeper::Application: uid #{uid} is taken" if index

        rows << @attributes.dup
      end
      FakeTable.saves << uid
      @original = @attributes.dup
      true
    end

    def destroy!
      raise 'fake Doorkeeper::Application: not persisted' unless persisted?

      FakeTable.rows.reject! { |r| r['uid'] == @original['uid'] }
      FakeTable.destroyed << @original['uid']
      @original = nil
      self
    end
  end
end
